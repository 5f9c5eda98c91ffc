// Kubernetes API errors. A non-2xx answer carries a `Status` object; like upstream we recognise
// "not found" and "invalid" only by the Status `code`, never by the HTTP status line (spec §4.1).

/** The fields of a metav1.Status that containerboot looks at. */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
}

/** An error answer from the API server. `message` is the Status message, as upstream prints it. */
export class KubeAPIError extends Error {
  constructor(
    message: string,
    /** Status `code`, undefined when the body was not a Status object. */
    readonly code: number | undefined,
    readonly httpStatus: number,
    readonly reason: string,
  ) {
    super(message);
    this.name = 'KubeAPIError';
  }
}

/** The request did not get an answer (connection error or our own request timeout). */
export class KubeTransportError extends Error {
  constructor(message: string, readonly errno: string, readonly timedOut: boolean) {
    super(message);
    this.name = 'KubeTransportError';
  }
}

/** Decodes an error body. Falls back to the HTTP status when the body is not a Status object. */
export function errorFromResponse(httpStatus: number, statusText: string, body: string): KubeAPIError {
  let st: KubeStatus | undefined;
  try {
    const parsed = JSON.parse(body) as unknown;
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) st = parsed as KubeStatus;
  } catch { /* not JSON */ }
  if (st && (st.kind === 'Status' || typeof st.code === 'number')) {
    const code = typeof st.code === 'number' ? st.code : undefined;
    const message = typeof st.message === 'string' && st.message !== '' ? st.message : `${httpStatus} ${statusText}`.trim();
    return new KubeAPIError(message, code, httpStatus, typeof st.reason === 'string' ? st.reason : '');
  }
  const snippet = body.trim().slice(0, 200);
  const message = `unexpected response from Kubernetes API: ${httpStatus} ${statusText}`.trim() + (snippet ? `: ${snippet}` : '');
  return new KubeAPIError(message, undefined, httpStatus, '');
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeAPIError && err.code === 404;
}

export function isInvalid(err: unknown): boolean {
  return err instanceof KubeAPIError && err.code === 422;
}

export function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

const TRANSIENT_ERRNOS = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/** 401 or 403: the API server refused the credentials or the permission. */
export function isDenied(err: unknown): boolean {
  if (!(err instanceof KubeAPIError)) return false;
  const c = err.code ?? err.httpStatus;
  return c === 401 || c === 403;
}

/**
 * Errors worth retrying: the server is overloaded/restarting (5xx, 429), a write conflicted (409),
 * or the connection failed or timed out. Everything else (403, 422, 400, …) will not heal by itself.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof KubeTransportError) return err.timedOut || TRANSIENT_ERRNOS.has(err.errno) || err.errno === '';
  if (err instanceof KubeAPIError) {
    const c = err.code ?? err.httpStatus;
    return c >= 500 || c === 429 || c === 409;
  }
  return false;
}
