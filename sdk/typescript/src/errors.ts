/** The SDK's errors (mirroring the Python SDK's `agentfield.errors`). */

/** Base class of the SDK's own errors. */
export class AgentFieldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AgentFieldError";
  }
}

/** The control plane refused the node's registration (a 4xx); retrying will not help. */
export class RegistrationRefused extends AgentFieldError {
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, body: unknown) {
    super(`registration refused (${status}): ${detailOf(body)}`);
    this.name = "RegistrationRefused";
    this.status = status;
    this.body = body;
  }
}

/**
 * A call through the control plane did not succeed.
 *
 * `status` is the execution's status when there is one (`failed`, `timeout`, `running` after
 * a 504, ...), else `"refused"` for a call the control plane turned down, or `"unreachable"`;
 * `httpStatus` is the HTTP status of the answer (0 when none arrived).
 */
export class ExecutionError extends AgentFieldError {
  readonly executionId: string | null;
  readonly status: string;
  readonly httpStatus: number;
  readonly errorCategory: string | null;
  readonly body: unknown;

  constructor(
    message: string,
    options: {
      executionId?: string | null;
      status?: string;
      httpStatus?: number;
      errorCategory?: string | null;
      body?: unknown;
    } = {},
  ) {
    super(message);
    this.name = "ExecutionError";
    this.executionId = options.executionId ?? null;
    this.status = options.status ?? "failed";
    this.httpStatus = options.httpStatus ?? 0;
    this.errorCategory = options.errorCategory ?? null;
    this.body = options.body;
  }
}

/** The session is over: the caller hung up, it expired, or it was ended. */
export class SessionEnded extends AgentFieldError {
  readonly sessionId: string;
  readonly reason: string;

  constructor(sessionId: string, reason = "") {
    super(`session ${sessionId} ended` + (reason ? `: ${reason}` : ""));
    this.name = "SessionEnded";
    this.sessionId = sessionId;
    this.reason = reason;
  }
}

/** `message`, else `error`, of a JSON error body; the body itself otherwise. */
export function detailOf(body: unknown): string {
  if (body !== null && typeof body === "object" && !Array.isArray(body)) {
    const record = body as Record<string, unknown>;
    const detail = record.message || record.error;
    return typeof detail === "string" ? detail : JSON.stringify(detail ?? body);
  }
  return typeof body === "string" ? body : JSON.stringify(body);
}
