/**
 * The node's HTTP client of the control plane (fetch): register, poll, heartbeat, execute,
 * status callbacks. Every request carries the node's API key in `X-API-Key`; nothing here
 * logs it.
 */

import { ExecutionError, RegistrationRefused, detailOf } from "./errors.js";

const DEFAULT_TIMEOUT_MS = 10_000;

/** A failure worth retrying: no answer, or a 5xx. */
export class TransientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransientError";
  }
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Answer {
  status: number;
  body: unknown;
  text: string;
  headers: Headers;
}

function errorName(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof Error && "code" in cause) return String(cause.code);
    return error.name;
  }
  return "Error";
}

/** Plain JSON of what handlers pass around (`toJSON`, `undefined` dropped, ...). */
export function toJson(value: unknown): Json {
  if (value === undefined) return null;
  return JSON.parse(JSON.stringify(value) ?? "null") as Json;
}

export class ControlPlaneClient {
  readonly server: string;
  readonly #apiKey: string;
  readonly #callTimeoutMs: number;

  constructor(server: string, apiKey: string, callTimeoutMs: number) {
    this.server = server.replace(/\/+$/, "");
    this.#apiKey = apiKey;
    this.#callTimeoutMs = callTimeoutMs;
  }

  async #request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<Answer> {
    let response: Response;
    try {
      response = await fetch(this.server + path, {
        method,
        headers: {
          "X-API-Key": this.#apiKey,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new TransientError(`the control plane did not answer (${errorName(error)})`);
    }
    const text = await response.text().catch(() => "");
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { status: response.status, body: parsed, text, headers: response.headers };
  }

  /** `POST /api/v1/nodes/register`. A 4xx throws `RegistrationRefused`; no answer or a 5xx
   * throws `TransientError` (worth retrying). */
  async register(payload: unknown): Promise<Record<string, unknown>> {
    const answer = await this.#request("POST", "/api/v1/nodes/register", payload);
    if (answer.status >= 400 && answer.status < 500) {
      throw new RegistrationRefused(answer.status, answer.body ?? answer.text.slice(0, 300));
    }
    if (answer.status >= 500) throw new TransientError(`HTTP ${answer.status}`);
    const body = answer.body as Record<string, unknown> | null;
    if (!body || typeof body !== "object" || !("dispatch_token" in body)) {
      throw new TransientError("the control plane answered the registration without a token");
    }
    return body;
  }

  async node(nodeId: string): Promise<Record<string, unknown>> {
    const answer = await this.#request("GET", `/api/v1/nodes/${encodeURIComponent(nodeId)}`);
    if (answer.status !== 200 || !answer.body || typeof answer.body !== "object") {
      throw new TransientError(`HTTP ${answer.status}`);
    }
    return answer.body as Record<string, unknown>;
  }

  /** `POST /api/v1/nodes/<id>/heartbeat`; the HTTP status. */
  async heartbeat(nodeId: string, body: unknown, timeoutMs?: number): Promise<number> {
    const path = `/api/v1/nodes/${encodeURIComponent(nodeId)}/heartbeat`;
    return (await this.#request("POST", path, body, {}, timeoutMs)).status;
  }

  /** `POST /api/v1/executions/<id>/status` for a call the node answered 202; the HTTP status. */
  async reportStatus(executionId: string, body: unknown): Promise<number> {
    const path = `/api/v1/executions/${encodeURIComponent(executionId)}/status`;
    return (await this.#request("POST", path, body)).status;
  }

  /** `POST /api/v1/execute/<target>` (sync): the result, or `ExecutionError`. */
  async execute(target: string, input: unknown, headers: Record<string, string>): Promise<unknown> {
    let answer: Answer;
    try {
      answer = await this.#request(
        "POST",
        `/api/v1/execute/${target}`,
        { input: toJson(input ?? {}) },
        headers,
        this.#callTimeoutMs,
      );
    } catch (error) {
      const why = error instanceof TransientError ? error.message : "no answer";
      throw new ExecutionError(`calling ${target} failed: ${why}`, { status: "unreachable" });
    }
    const body = answer.body;
    const record =
      body && typeof body === "object" && !Array.isArray(body)
        ? (body as Record<string, unknown>)
        : null;
    const executionId =
      (typeof record?.execution_id === "string" ? record.execution_id : null) ||
      answer.headers.get("X-Execution-ID");
    if (answer.status === 200 && record) {
      const status = typeof record.status === "string" ? record.status : "";
      if (status === "succeeded") return record.result;
      const message =
        typeof record.error_message === "string" && record.error_message
          ? record.error_message
          : `execution of ${target} ended ${status}`;
      throw new ExecutionError(message, {
        executionId,
        status: status || "failed",
        httpStatus: 200,
        errorCategory: typeof record.error_category === "string" ? record.error_category : null,
        body,
      });
    }
    let status = "refused";
    if (record && answer.status === 504) {
      status = typeof record.status === "string" && record.status ? record.status : "timeout";
    }
    const detail = record ? detailOf(record) : answer.text.slice(0, 300) || `HTTP ${answer.status}`;
    throw new ExecutionError(`calling ${target} failed (${answer.status}): ${detail}`, {
      executionId,
      status,
      httpStatus: answer.status,
      errorCategory: record && typeof record.error === "string" ? record.error : null,
      body,
    });
  }
}
