/**
 * @paas/dashboard — the web UI served by the api at `/`: apps, scale, releases, logs, nodes.
 *
 * Filled in by its own issue (React + Vite); the project exists so that its boundaries are
 * enforced from day one.
 */
export {};
