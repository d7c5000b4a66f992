/**
 * The node's HTTP server (Node's `http`): the control plane POSTs reasoner and skill calls
 * here. `POST /reasoners/<name>` and `POST /skills/<name>` need `Authorization: Bearer
 * <dispatch_token>` (the token of the node's latest registration); `GET /health` does not.
 *
 * A call that is still running after `syncWindowMs` is answered 202
 * `{"status": "processing", "execution_id"}`; its outcome then goes to
 * `POST /api/v1/executions/<id>/status` (the control plane waits for that callback).
 */

import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

import { contextFromHeaders, runInContext, type ExecutionContext } from "./context.js";
import { toJson } from "./controlPlane.js";
import { describe, type Logger } from "./log.js";

export type TargetKind = "reasoner" | "skill";

export interface ServedTarget {
  kind: TargetKind;
  name: string;
  run(input: unknown, context: ExecutionContext): Promise<unknown>;
}

export interface NodeHttpServerOptions {
  nodeId: string;
  find(kind: TargetKind, name: string): ServedTarget | undefined;
  token(): string | null;
  report(executionId: string, body: Record<string, unknown>): Promise<void>;
  syncWindowMs: number;
  logger: Logger;
}

const MAX_BODY_BYTES = 10 * 1024 * 1024;
const KINDS: Record<string, TargetKind> = { reasoners: "reasoner", skills: "skill" };

class BodyError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
  });
  response.end(text);
}

function sendError(response: ServerResponse, status: number, error: string, message: string) {
  send(response, status, { error, message });
}

function bearer(request: IncomingMessage): string {
  const [scheme, ...rest] = (request.headers.authorization || "").split(" ");
  return scheme.toLowerCase() === "bearer" ? rest.join(" ").trim() : "";
}

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BodyError(413, "too_large", "the body is too large");
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new BodyError(400, "invalid_json", "the body must be JSON");
  }
}

/** The input of a call: `{"input": {...}}` unwrapped, else the body itself. */
export function callInput(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) {
    throw new BodyError(400, "invalid_input", "the body must be a JSON object");
  }
  const record = body as Record<string, unknown>;
  const keys = Object.keys(record);
  const wrapped = record.input;
  if (keys.length === 1 && keys[0] === "input" && wrapped && typeof wrapped === "object") {
    if (!Array.isArray(wrapped)) return wrapped as Record<string, unknown>;
  }
  return record;
}

export class NodeHttpServer {
  readonly #options: NodeHttpServerOptions;
  #server: Server | null = null;
  readonly #sockets = new Set<Socket>();
  port = 0;

  constructor(options: NodeHttpServerOptions) {
    this.#options = options;
  }

  /** Listen on `host:port` (0 picks a free port); the port. */
  async start(host: string, port: number): Promise<number> {
    const server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        this.#options.logger.error(
          `${this.#options.nodeId}: serving a call failed: ${describe(error)}`,
        );
        if (!response.headersSent) sendError(response, 500, "internal_error", "internal error");
      });
    });
    server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.#server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (server === null) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const grace = setTimeout(() => {
      for (const socket of this.#sockets) socket.destroy();
    }, 5_000);
    await closed;
    clearTimeout(grace);
  }

  #authorized(request: IncomingMessage): boolean {
    const expected = this.#options.token();
    const presented = bearer(request);
    if (!expected || !presented) return false;
    const a = Buffer.from(presented);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url || "/", "http://node.invalid");
    const { nodeId } = this.#options;
    if (url.pathname === "/health" && request.method === "GET") {
      send(response, 200, { status: "ok", node_id: nodeId });
      return;
    }
    const match = /^\/(reasoners|skills)\/([^/]+)$/.exec(url.pathname);
    if (!match) {
      sendError(response, 404, "not_found", "not found");
      return;
    }
    if (request.method !== "POST") {
      response.setHeader("Allow", "POST");
      sendError(response, 405, "method_not_allowed", "use POST");
      return;
    }
    if (!this.#authorized(request)) {
      sendError(response, 401, "unauthorized", "missing or invalid dispatch token");
      return;
    }
    const kind = KINDS[match[1]];
    const name = decodeURIComponent(match[2]);
    const target = this.#options.find(kind, name);
    if (target === undefined) {
      sendError(response, 404, "not_found", `${kind} '${name}' not found on ${nodeId}`);
      return;
    }
    let input: Record<string, unknown>;
    try {
      input = callInput(await readBody(request));
    } catch (error) {
      if (error instanceof BodyError) {
        sendError(response, error.status, error.error, error.message);
        return;
      }
      throw error;
    }
    await this.#run(target, input, contextFromHeaders(request.headers), response);
  }

  async #run(
    target: ServedTarget,
    input: Record<string, unknown>,
    context: ExecutionContext,
    response: ServerResponse,
  ): Promise<void> {
    const { nodeId, logger, syncWindowMs } = this.#options;
    const started = Date.now();
    const label = `${target.kind} ${nodeId}.${target.name}`;
    const outcome = runInContext(context, () => target.run(input, context)).then(
      (result) => ({ ok: true as const, result: toJson(result) }),
      (error: unknown) => {
        logger.error(`${label} failed: ${describe(error)}`);
        return { ok: false as const, message: describe(error).slice(0, 2000) };
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const window = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), syncWindowMs);
    });
    const first = context.executionId ? await Promise.race([outcome, window]) : await outcome;
    clearTimeout(timer);
    if (first !== "late") {
      if (first.ok) send(response, 200, first.result);
      // A failure of the work, not of the node: 422, which the control plane records as
      // failed without calling again (it retries 5xx).
      else sendError(response, 422, `${target.kind}_failed`, first.message);
      logger.debug(
        `${label} ran in ${Date.now() - started} ms (execution ${context.executionId || "-"})`,
      );
      return;
    }
    send(response, 202, { status: "processing", execution_id: context.executionId });
    logger.info(
      `${label} is still running after ${syncWindowMs} ms: answered 202 (execution ${context.executionId})`,
    );
    const done = await outcome;
    const durationMs = Date.now() - started;
    const body = done.ok
      ? { status: "succeeded", result: done.result, duration_ms: durationMs }
      : { status: "failed", error: done.message, duration_ms: durationMs };
    await this.#options.report(context.executionId, body);
  }
}
