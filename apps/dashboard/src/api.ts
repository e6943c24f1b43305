/**
 * The platform's public REST API (docs/api.md), as the dashboard uses it: same origin, the
 * user's token as a Bearer header, every error answer turned into a {@link PlatformApiError} with
 * the api's own `{code, message}`. The JSON shapes are the generated wire types of
 * @paas/api-types (from the api's OpenAPI document), under the names the pages use.
 */
import { type ErrorCode, PaasError, codeForStatus, isErrorCode } from '@paas/errors';

export type {
  Addon,
  AddonType,
  App,
  AppMetrics,
  Backup as AddonBackup,
  Build,
  BuildStatus,
  Certificate,
  CertsAuto,
  ControlPlane,
  Domain,
  Formation,
  HttpsSettings,
  Instance,
  LogLine,
  Node as PaasNode,
  Release,
  ReviewApp,
} from '@paas/api-types';

/** An error answer of the api (code as docs/api.md's), or no answer at all (`unavailable`, status 0). */
export class PlatformApiError extends PaasError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    readonly details: readonly { field: string; message: string }[] = [],
  ) {
    super(code, message);
  }
}

const TOKEN_KEY = 'paas.token';

export function storedToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage refused (private mode): the token lives as long as the page
  }
}

type Listener = (error: PlatformApiError) => void;
const unauthorizedListeners = new Set<Listener>();

/** Called when the api answers 401 to the stored token (revoked): the app signs out. */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export function notifyUnauthorized(error: PlatformApiError): void {
  unauthorizedListeners.forEach((l) => l(error));
}

/** An error answer read into an PlatformApiError; bodies that are not the api's shape still say something. */
export async function errorFrom(res: Response): Promise<PlatformApiError> {
  let code = codeForStatus(res.status);
  let message = `${res.status} ${res.statusText || 'error'}`;
  let details: { field: string; message: string }[] = [];
  try {
    const body = (await res.json()) as { code?: unknown; message?: unknown; details?: unknown };
    if (isErrorCode(body.code)) code = body.code;
    if (typeof body.message === 'string') message = body.message;
    if (Array.isArray(body.details)) details = body.details as { field: string; message: string }[];
  } catch {
    // not JSON: keep the status line
  }
  return new PlatformApiError(res.status, code, message, details);
}

export interface RequestOptions {
  body?: unknown;
  signal?: AbortSignal;
  /** A token other than the stored one (the login screen checks one before storing it). */
  token?: string;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const token = options.token ?? storedToken();
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) headers['Authorization'] = `Bearer ${token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
      cache: 'no-store',
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new PlatformApiError(0, 'unavailable', 'The api cannot be reached. Is the platform running?');
  }
  if (!res.ok) {
    const error = await errorFrom(res);
    if (res.status === 401 && options.token === undefined) notifyUnauthorized(error);
    throw error;
  }
  // the api's DELETEs of add-ons answer 204 with no body
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T>(path: string, signal?: AbortSignal): Promise<T> => request<T>('GET', path, { signal });

/** `/api/apps/NAME/...` with the name escaped. */
export function appPath(app: string, rest = ''): string {
  return `/api/apps/${encodeURIComponent(app)}${rest}`;
}

/** `/api/addons/NAME/...` with the name escaped. */
export function addonPath(addon: string, rest = ''): string {
  return `/api/addons/${encodeURIComponent(addon)}${rest}`;
}

export function describeError(error: unknown): string {
  if (error instanceof PlatformApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
