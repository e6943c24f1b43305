/**
 * @paas/dockerfile — Dockerfile lexer and parser to typed instructions (no execution).
 *
 * Filled in by its own issue; the project exists so that its boundaries are enforced from day one.
 */
export {};
