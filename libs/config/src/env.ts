/**
 * Settings from the environment, typed and validated in one place.
 *
 * Apps call their own `load*Config(process.env)` once at start-up; everything below works
 * on a plain record so that tests pass their own environment and nothing else reads
 * `process.env`. Defaults are the ones in DESIGN.md.
 */
import { isAbsolute } from 'node:path';
import { PaasError } from '@paas/errors';

export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULTS = {
  PAAS_ROOT: '/var/lib/paas',
  PAAS_RUN: '/run/paas',
  PAAS_API_ADDR: '127.0.0.1:7000',
  PAAS_ROUTER_ADDR: '0.0.0.0:8080',
  PAAS_REGISTRY_ADDR: '127.0.0.1:5000',
  PAAS_AGENT_ADDR: '127.0.0.1:7100',
  PAAS_DOMAIN: 'localhost',
  PAAS_BRIDGE: 'paas0',
  PAAS_SUBNET: '10.88.0.0/16',
  /**
   * The host ports add-ons are published on (one each, on their node's service address). Below
   * the kernel's ephemeral range (32768-60999), where random published ports come from; every
   * bridge closes this range to containers but for the add-ons their app is attached to.
   */
  PAAS_ADDON_PORTS: '20000-20999',
} as const;

export type SettingName = keyof typeof DEFAULTS;

/** A setting that is present but unusable. The message names the variable and the value. */
export class ConfigError extends PaasError {
  constructor(
    readonly variable: string,
    readonly value: string,
    readonly reason: string,
  ) {
    super('invalid_params', `${variable}=${JSON.stringify(value)}: ${reason}`);
  }
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

function raw(env: Env, name: SettingName): string {
  const value = env[name];
  return value === undefined || value === '' ? DEFAULTS[name] : value;
}

/** An absolute directory path such as PAAS_ROOT or PAAS_RUN. */
export function directory(env: Env, name: SettingName): string {
  return absoluteDirectory(name, raw(env, name));
}

/** The value of setting `name` as an absolute directory path, without a trailing slash. */
export function absoluteDirectory(name: string, value: string): string {
  if (!isAbsolute(value)) throw new ConfigError(name, value, 'must be an absolute path');
  if (value.includes('\0')) throw new ConfigError(name, value, 'must not contain NUL');
  return value.length > 1 ? value.replace(/\/+$/, '') : value;
}

/**
 * `host:port`, `[v6]:port` or `:port` (all interfaces). Port 0 asks the kernel for a free
 * port, which tests use to run side by side.
 */
export function listenAddress(env: Env, name: SettingName): ListenAddress {
  return parseAddress(name, raw(env, name));
}

/**
 * An address setting that may be `off` (null): `fallback` when unset. Listeners that only some
 * operators want (metrics, an admin address) are set so.
 */
export function addressOrOff(env: Env, name: string, fallback: string): ListenAddress | null {
  const value = env[name] || fallback;
  if (value === 'off') return null;
  try {
    return parseAddress(name, value);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(name, value, `${err.reason} or off`);
    throw err;
  }
}

function parseAddress(name: string, value: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (!match) throw new ConfigError(name, value, 'expected HOST:PORT, [IPV6]:PORT or :PORT');
  const port = Number(match[3]);
  if (port > 65535) throw new ConfigError(name, value, `port ${port} is out of range 0-65535`);
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/**
 * The router's HTTPS listener (PAAS_ROUTER_TLS_ADDR, `off`: null): by default port 443 on the
 * HTTP listener's host (PAAS_ROUTER_ADDR), port 0 beside port 0. The router listens there; the
 * api names its port in the apps' https URLs.
 */
export function routerHttpsAddress(env: Env): ListenAddress | null {
  const listen = listenAddress(env, 'PAAS_ROUTER_ADDR');
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return addressOrOff(env, 'PAAS_ROUTER_TLS_ADDR', `${host}:${listen.port === 0 ? 0 : 443}`);
}

/** A DNS name used as the apps' domain (`APP.<domain>`). */
export function domain(env: Env, name: SettingName): string {
  const value = raw(env, name).toLowerCase();
  const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
  if (value.length > 253 || !value.split('.').every((part) => label.test(part))) {
    throw new ConfigError(name, value, 'must be a DNS name such as localhost or paas.example.com');
  }
  return value;
}

export function formatAddress(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** The durable and the volatile roots every component shares. */
/**
 * `PAAS_INSTANCE_USERNS`: `auto` (the default) runs tenant containers (app instances, release
 * commands, one-off runs) in user namespaces, a range per app; `host` keeps the host's ids.
 */
export function tenantUserns(env: Env): 'auto' | 'host' {
  const value = env['PAAS_INSTANCE_USERNS'] || 'auto';
  if (value !== 'auto' && value !== 'host')
    throw new ConfigError('PAAS_INSTANCE_USERNS', value, 'expected auto or host');
  return value;
}

/**
 * `PAAS_BUILD_USERNS`: `auto` runs platform builds' RUN steps in user namespaces, the app's
 * range (its instances'); `host` keeps the host's ids. Default: PAAS_INSTANCE_USERNS's value.
 */
export function buildUserns(env: Env): 'auto' | 'host' {
  const value = env['PAAS_BUILD_USERNS'];
  if (!value) return tenantUserns(env);
  if (value !== 'auto' && value !== 'host') throw new ConfigError('PAAS_BUILD_USERNS', value, 'expected auto or host');
  return value;
}

export interface Paths {
  readonly root: string;
  readonly run: string;
}

export function paths(env: Env): Paths {
  return { root: directory(env, 'PAAS_ROOT'), run: directory(env, 'PAAS_RUN') };
}

/** A login to the platform registry. */
export interface RegistryLogin {
  readonly username: string;
  readonly password: string;
}

/**
 * `PAAS_REGISTRY_USER` + `PAAS_REGISTRY_PASSWORD`: how a component (build worker, agent) logs
 * in to the platform registry; null when neither is set (a registry without auth, on loopback).
 */
export function registryLogin(env: Env): RegistryLogin | null {
  const username = env['PAAS_REGISTRY_USER'] ?? '';
  const password = env['PAAS_REGISTRY_PASSWORD'] ?? '';
  if (username === '' && password === '') return null;
  if (username === '') throw new ConfigError('PAAS_REGISTRY_USER', username, 'required with PAAS_REGISTRY_PASSWORD');
  if (password === '') throw new ConfigError('PAAS_REGISTRY_PASSWORD', '', 'required with PAAS_REGISTRY_USER');
  return { username, password };
}
