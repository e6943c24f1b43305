/**
 * The distribution-spec error codes with the HTTP status each one answers with
 * (spec "Error Codes"; statuses as CNCF distribution sends them), and the error type the
 * server throws and the client decodes.
 */
import { PaasError, codeForStatus } from '@paas/errors';

const ERROR_STATUS = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  TAG_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOO_MANY_REQUESTS: 429,
  // distribution's errcode for a service that cannot answer (a proxy's upstream down)
  UNAVAILABLE: 503,
} as const;

export type RegistryErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  errors: Array<{ code: string; message: string; detail?: unknown }>;
}

/** One spec error; `status` overrides the code's usual status where the spec asks (416 for ranges). */
export class RegistryError extends PaasError {
  readonly status: number;
  /** Extra response headers, e.g. the `WWW-Authenticate` challenge of a 401. */
  headers: Record<string, string> = {};
  constructor(
    /** The distribution-spec code the answer names. */
    readonly registryCode: RegistryErrorCode,
    message: string,
    readonly detail?: unknown,
    status?: number,
  ) {
    const answered = status ?? ERROR_STATUS[registryCode];
    super(codeForStatus(answered), message);
    this.status = answered;
  }

  toBody(): ErrorBody {
    return { errors: [{ code: this.registryCode, message: this.message, detail: this.detail ?? null }] };
  }
}
