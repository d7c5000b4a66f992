/**
 * `Agent`: one agent node. Declare reasoners, skills and sessions; `serve()` it.
 *
 * ```ts
 * const agent = new Agent({ nodeId: "support" });
 * agent.reasoner("lookup", async (ctx) => ({ order: ctx.input.order }), { tags: ["support"] });
 * await agent.serve();
 * ```
 *
 * It mirrors the Python SDK (`agentfield/agent.py`): the same registration body, approval
 * wait, heartbeats, agent link and session handler protocol.
 */

import { randomUUID } from "node:crypto";

import { childHeaders, currentContext, type ExecutionContext } from "./context.js";
import { ControlPlaneClient, TransientError } from "./controlPlane.js";
import { AgentFieldError } from "./errors.js";
import { NodeHttpServer, type ServedTarget, type TargetKind } from "./httpServer.js";
import { AgentLink } from "./link.js";
import { defaultLogger, describe, type Logger } from "./log.js";
import { normalizeSessionDefinition, type SessionDefinition } from "./sessionDefinition.js";
import type { CapabilityTable } from "./sessionTransport.js";
import { SessionHost, type DeclaredSession, type SessionHandler } from "./session.js";

export const DEFAULT_SERVER = "http://127.0.0.1:8000";
/** A little over the control plane's default sync timeout (60 s). */
export const DEFAULT_CALL_TIMEOUT_MS = 75_000;
const PENDING = "pending_approval";

export interface AgentOptions {
  nodeId: string;
  /** The control plane; default `$AGENTFIELD_SERVER`, else http://127.0.0.1:8000. */
  server?: string;
  /** Upstream's name for `server`. */
  agentFieldUrl?: string;
  /** The node's agent key; default `$AGENTFIELD_API_KEY`. */
  apiKey?: string;
  /** Where the node listens (default 127.0.0.1). */
  host?: string;
  /** 0 (the default) takes a free port. */
  port?: number;
  /** The URL the control plane calls; default `http://<host>:<port>`. */
  callbackUrl?: string;
  /** Upstream's name for `callbackUrl`. */
  publicUrl?: string;
  version?: string;
  /** Node-level tags proposed at registration. */
  tags?: string[];
  description?: string;
  heartbeatIntervalMs?: number;
  approvalPollIntervalMs?: number;
  callTimeoutMs?: number;
  /** A reasoner or skill still running after this long is answered 202, then reported
   * through the status callback (default 10 s). */
  syncWindowMs?: number;
  /** The provider/transport table, when the control plane registers further providers. */
  sessionCapabilities?: CapabilityTable;
  logger?: Logger;
}

/** What a reasoner or skill receives: upstream's `handler(ctx)` with `ctx.input`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface ReasonerContext<I = any> extends ExecutionContext {
  readonly input: I;
  readonly agent: Agent;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ReasonerHandler<I = any, O = unknown> = (ctx: ReasonerContext<I>) => O | Promise<O>;

export interface TargetOptions {
  tags?: string[];
  description?: string;
  /** JSON Schema of the input (default: any object). */
  inputSchema?: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
}

export interface SessionOptions {
  provider: string;
  transport: string;
  model?: string;
  modalities?: string[];
  voice?: string;
  /** The provider-visible allowlist of AgentField targets (`<node>.<name>`). */
  tools?: string[];
  tags?: string[];
  metadata?: Record<string, unknown>;
  /** OpenAI turn detection (`{ type: "server_vad" | "semantic_vad", ... }`). */
  turnDetection?: Record<string, unknown>;
  instructions?: string;
}

interface Target extends ServedTarget {
  tags: string[];
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
}

export function checkTargetName(name: string, kind: string): string {
  const trimmed = String(name ?? "").trim();
  if (!trimmed || trimmed.includes(".")) {
    throw new Error(`${kind} name '${trimmed}' is invalid: it must be non-empty and have no dots`);
  }
  return trimmed;
}

function urlHost(host: string): string {
  if (host === "" || host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

/** (kind, name, rejected tags) of the node's targets an admin rejected tags of. */
function rejectedTargets(node: Record<string, unknown>): Array<[string, string, string[]]> {
  const found: Array<[string, string, string[]]> = [];
  for (const kind of ["reasoners", "skills", "sessions"]) {
    const targets = node[kind];
    if (!Array.isArray(targets)) continue;
    for (const target of targets as unknown[]) {
      if (!target || typeof target !== "object") continue;
      const record = target as Record<string, unknown>;
      const rejected = stringList(record.rejected_tags);
      if (rejected.length) found.push([kind.replace(/s$/, ""), String(record.id), rejected]);
    }
  }
  return found;
}

// One SIGINT/SIGTERM handler for every node `serve()` started in this process.
const served = new Set<Agent>();
let signalsInstalled = false;

function onSignal(signal: NodeJS.Signals): void {
  const agents = [...served];
  defaultLogger.info(`${signal}: stopping ${agents.map((agent) => agent.nodeId).join(", ")}`);
  void Promise.allSettled(agents.map((agent) => agent.stop())).then(() => process.exit(0));
}

function installSignalHandlers(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
}

export class Agent {
  readonly nodeId: string;
  readonly server: string;
  readonly host: string;
  port: number;
  readonly callbackUrl: string;
  readonly version: string;
  readonly tags: string[];
  readonly description: string;
  readonly instanceId = randomUUID().replaceAll("-", "");
  readonly heartbeatIntervalMs: number;
  readonly approvalPollIntervalMs: number;
  readonly callTimeoutMs: number;
  readonly syncWindowMs: number;
  readonly sessionCapabilities?: CapabilityTable;
  readonly logger: Logger;
  baseUrl = "";
  status = "";
  readonly #apiKey: string;
  readonly #targets = new Map<string, Target>();
  readonly #sessions = new Map<string, DeclaredSession>();
  #dispatchToken: string | null = null;
  #pendingTags: string[] = [];
  #client: ControlPlaneClient | null = null;
  #httpServer: NodeHttpServer | null = null;
  #link: AgentLink | null = null;
  #host: SessionHost | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #stopping = new AbortController();
  #ready = false;

  constructor(options: AgentOptions) {
    this.nodeId = checkTargetName(options.nodeId, "node");
    const server =
      options.server || options.agentFieldUrl || process.env.AGENTFIELD_SERVER || DEFAULT_SERVER;
    this.server = server.replace(/\/+$/, "");
    this.#apiKey = options.apiKey || process.env.AGENTFIELD_API_KEY || "";
    this.host = options.host ?? "127.0.0.1";
    this.port = options.port ?? 0;
    this.callbackUrl = options.callbackUrl || options.publicUrl || "";
    this.version = options.version ?? "1.0.0";
    this.tags = [...(options.tags ?? [])];
    this.description = options.description ?? "";
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 10_000;
    this.approvalPollIntervalMs = options.approvalPollIntervalMs ?? 1_000;
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.syncWindowMs = options.syncWindowMs ?? 10_000;
    this.sessionCapabilities = options.sessionCapabilities;
    this.logger = options.logger ?? defaultLogger;
  }

  toString(): string {
    return `<Agent ${this.nodeId} ${this.server}>`;
  }

  /** True between a successful `serve()` and `stop()`. */
  get ready(): boolean {
    return this.#ready;
  }

  // --- declarations ----------------------------------------------------------------------

  /** Declare a reasoner: `handler(ctx)` gets `ctx.input` and returns a JSON result. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  reasoner<I = any, O = unknown>(
    name: string,
    handler: ReasonerHandler<I, O>,
    options: TargetOptions = {},
  ): this {
    return this.#declare("reasoner", name, handler, options);
  }

  /** Declare a skill; same shape as `reasoner`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  skill<I = any, O = unknown>(
    name: string,
    handler: ReasonerHandler<I, O>,
    options: TargetOptions = {},
  ): this {
    return this.#declare("skill", name, handler, options);
  }

  #declare<I, O>(
    kind: TargetKind,
    rawName: string,
    handler: ReasonerHandler<I, O>,
    options: TargetOptions,
  ): this {
    const name = checkTargetName(rawName, kind);
    if (typeof handler !== "function")
      throw new TypeError(`the handler of ${kind} '${name}' must be a function`);
    if ([...this.#targets.values()].some((target) => target.name === name)) {
      throw new Error(`${this.nodeId} already declares a target '${name}'`);
    }
    const agent: Agent = this; // eslint-disable-line @typescript-eslint/no-this-alias
    this.#targets.set(`${kind}:${name}`, {
      kind,
      name,
      tags: [...(options.tags ?? [])],
      description: options.description ?? "",
      inputSchema: options.inputSchema ?? { type: "object" },
      outputSchema: options.outputSchema ?? {},
      async run(input: unknown, context: ExecutionContext) {
        return await handler({ ...context, input: input as I, agent });
      },
    });
    return this;
  }

  /**
   * Declare a session. With a handler, this node runs its calls (`handler(session)`);
   * without one it is model-driven (the realtime model answers and calls the session's
   * tools by itself). Provider and transport are checked now, with the control plane's
   * messages (`SessionTransportError` for an unsupported pair).
   */
  session(name: string, options: SessionOptions, handler?: SessionHandler): this {
    if (handler !== undefined && typeof handler !== "function") {
      throw new TypeError(`the handler of session '${name}' must be a function`);
    }
    const { turnDetection, ...rest } = (options ?? {}) as SessionOptions & Record<string, unknown>;
    const raw: Record<string, unknown> = { name, ...rest };
    if (turnDetection !== undefined) raw.turn_detection = turnDetection;
    const definition = normalizeSessionDefinition(raw, this.sessionCapabilities);
    if (this.#sessions.has(definition.name)) {
      throw new Error(`${this.nodeId} already declares a session '${definition.name}'`);
    }
    this.#sessions.set(definition.name, { definition, handler: handler ?? null });
    return this;
  }

  /** The session definitions as registered (upstream's `sessionDefinitions()`). */
  sessionDefinitions(): Array<SessionDefinition & { approved_tags: string[] }> {
    return [...this.#sessions.values()].map(({ definition, handler }) => ({
      ...definition,
      approved_tags: [],
      handler: handler !== null,
    }));
  }

  #registrations(kind: TargetKind): Array<Record<string, unknown>> {
    return [...this.#targets.values()]
      .filter((target) => target.kind === kind)
      .map((target) => ({
        id: target.name,
        description: target.description,
        tags: target.tags,
        proposed_tags: target.tags,
        input_schema: target.inputSchema,
        output_schema: target.outputSchema,
      }));
  }

  get #hasHandlers(): boolean {
    return [...this.#sessions.values()].some((session) => session.handler !== null);
  }

  /** The body of `POST /api/v1/nodes/register` (the Python SDK's, field for field). */
  registrationPayload(): Record<string, unknown> {
    const sessions = this.sessionDefinitions();
    return {
      id: this.nodeId,
      team_id: "default",
      base_url: this.baseUrl,
      version: this.version,
      instance_id: this.instanceId,
      proposed_tags: this.tags,
      reasoners: this.#registrations("reasoner"),
      skills: this.#registrations("skill"),
      sessions,
      communication_config: {
        protocols: ["http", ...(this.#hasHandlers ? ["websocket"] : [])],
        heartbeat_interval: `${this.heartbeatIntervalMs / 1000}s`,
      },
      metadata: {
        custom: {
          sessions,
          tags: this.tags,
          description: this.description,
          sdk: { language: "typescript", name: "@agentfield/sdk" },
        },
      },
    };
  }

  // --- calls -----------------------------------------------------------------------------

  /**
   * Run `<node>.<name>` through the control plane and return its result. Inside a reasoner,
   * skill or session handler the call joins the current workflow (parent execution, run and
   * session ids). Throws `ExecutionError` (with `status` and `message`) on failure.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async call<T = any>(target: string, input: Record<string, unknown> = {}): Promise<T> {
    return (await this.#execute(target, input, childHeaders(currentContext()))) as T;
  }

  #execute(target: string, input: unknown, headers: Record<string, string>): Promise<unknown> {
    return this.#controlPlane().execute(target, input, headers);
  }

  #controlPlane(): ControlPlaneClient {
    if (this.#client === null) {
      if (!this.#apiKey) {
        throw new AgentFieldError(
          `no API key for node ${this.nodeId}: pass apiKey or set AGENTFIELD_API_KEY`,
        );
      }
      this.#client = new ControlPlaneClient(this.server, this.#apiKey, this.callTimeoutMs);
    }
    return this.#client;
  }

  // --- lifecycle -------------------------------------------------------------------------

  /**
   * Listen, register, wait for tag approval, heartbeat and open the agent link; resolves
   * once the node is ready. SIGINT and SIGTERM then stop it cleanly and end the process
   * (pass `{ handleSignals: false }` to manage that yourself and call `stop()`).
   */
  async serve(options: { handleSignals?: boolean } = {}): Promise<void> {
    if (this.#httpServer !== null)
      throw new AgentFieldError(`node ${this.nodeId} is already running`);
    const client = this.#controlPlane();
    this.#stopping = new AbortController();
    if (options.handleSignals ?? true) {
      served.add(this);
      installSignalHandlers();
    }
    this.#httpServer = new NodeHttpServer({
      nodeId: this.nodeId,
      find: (kind, name) => this.#targets.get(`${kind}:${name}`),
      token: () => this.#dispatchToken,
      report: (executionId, body) => this.#report(executionId, body),
      syncWindowMs: this.syncWindowMs,
      logger: this.logger,
    });
    try {
      const port = await this.#httpServer.start(this.host, this.port);
      this.baseUrl = (this.callbackUrl || `http://${urlHost(this.host)}:${port}`).replace(
        /\/+$/,
        "",
      );
      this.logger.info(`${this.nodeId} listening on ${this.baseUrl}`);
      await this.#register(client);
      this.#startHeartbeats(client);
      await this.#waitForApproval(client);
      if (this.#hasHandlers && !this.#stopping.signal.aborted) {
        this.#host = new SessionHost({
          nodeId: this.nodeId,
          sessions: this.#sessions,
          send: (message) => this.#send(message),
          execute: (target, input, headers) => this.#execute(target, input, headers),
          logger: this.logger,
        });
        const host = this.#host;
        this.#link = new AgentLink({
          server: this.server,
          nodeId: this.nodeId,
          apiKey: this.#apiKey,
          onMessage: (message) => host.onMessage(message),
          logger: this.logger,
        });
        this.#link.start();
        await this.#link.waitConnected();
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
    if (this.#stopping.signal.aborted) return;
    this.#ready = true;
    this.logger.info(`${this.nodeId} is ready`);
  }

  /** End live sessions, close the link, say goodbye, stop listening. Idempotent. */
  async stop(): Promise<void> {
    this.#ready = false;
    this.#stopping.abort();
    served.delete(this);
    if (this.#heartbeat !== null) clearTimeout(this.#heartbeat);
    this.#heartbeat = null;
    if (this.#host !== null) await this.#host.shutdown();
    if (this.#link !== null) await this.#link.close();
    this.#host = null;
    this.#link = null;
    if (this.#client !== null && this.#dispatchToken) {
      await this.#client
        .heartbeat(this.nodeId, this.#heartbeatBody("offline"), 3_000)
        .catch(() => 0);
    }
    if (this.#httpServer !== null) await this.#httpServer.stop();
    this.#httpServer = null;
    this.#dispatchToken = null;
  }

  /** Drop the agent link once (it reconnects by itself); for tests and drills. */
  dropLink(): void {
    this.#link?.drop();
  }

  async #send(message: Record<string, unknown>): Promise<void> {
    if (this.#link === null) throw new Error(`the agent link of ${this.nodeId} is not open`);
    await this.#link.send(message);
  }

  /** The outcome of a call answered 202; retried while the control plane is unreachable. */
  async #report(executionId: string, body: Record<string, unknown>): Promise<void> {
    const client = this.#controlPlane();
    for (
      let attempt = 0, delay = 500;
      attempt < 8;
      attempt += 1, delay = Math.min(delay * 2, 10_000)
    ) {
      try {
        const status = await client.reportStatus(executionId, body);
        if (status < 500) {
          if (status >= 400)
            this.logger.warn(
              `${this.nodeId}: the status callback of execution ${executionId} answered ${status}`,
            );
          return;
        }
      } catch (error) {
        if (!(error instanceof TransientError)) throw error;
      }
      await sleep(delay);
    }
    this.logger.error(`${this.nodeId}: could not report execution ${executionId}`);
  }

  /** Register, retrying while the control plane is unreachable or failing (5xx). */
  async #register(client: ControlPlaneClient): Promise<void> {
    let delay = 500;
    let warned = false;
    let answer: Record<string, unknown>;
    for (;;) {
      try {
        answer = await client.register(this.registrationPayload());
        break;
      } catch (error) {
        if (!(error instanceof TransientError) || this.#stopping.signal.aborted) throw error;
        if (!warned) {
          this.logger.warn(
            `${this.nodeId}: the control plane at ${this.server} is not reachable (${error.message}); retrying`,
          );
          warned = true;
        }
        await sleep(delay);
        delay = Math.min(5_000, delay * 2);
      }
    }
    this.#dispatchToken = String(answer.dispatch_token);
    this.status = typeof answer.status === "string" && answer.status ? answer.status : "ready";
    this.#pendingTags = stringList(answer.pending_tags);
    this.logger.info(`${this.nodeId} registered with ${this.server} (status ${this.status})`);
  }

  /** Poll the node until no tag is pending: every `approvalPollIntervalMs` at first, then
   * less often (up to 5 times that). */
  async #waitForApproval(client: ControlPlaneClient): Promise<void> {
    let shown: string[] | null = null;
    let node: Record<string, unknown> | null = null;
    let delay = this.approvalPollIntervalMs;
    while (this.status === PENDING && !this.#stopping.signal.aborted) {
      if (shown === null || shown.join(",") !== this.#pendingTags.join(",")) {
        shown = this.#pendingTags;
        this.logger.warn(
          `${this.nodeId} is waiting for tag approval: ${shown.join(", ") || "-"} ` +
            `(approve at ${this.server}/access/approvals/)`,
        );
      }
      await sleep(delay);
      delay = Math.min(delay * 1.25, this.approvalPollIntervalMs * 5);
      try {
        node = await client.node(this.nodeId);
      } catch (error) {
        this.logger.debug(`${this.nodeId}: polling the approval state failed: ${describe(error)}`);
        continue;
      }
      this.status = typeof node.status === "string" ? node.status : "";
      this.#pendingTags = stringList(node.pending_tags);
    }
    if (node === null) node = await client.node(this.nodeId).catch(() => null);
    const rejected = rejectedTargets(node ?? {});
    if (shown !== null && !rejected.length) this.logger.info(`${this.nodeId}: tags approved`);
    for (const [kind, name, tags] of rejected) {
      this.logger.warn(
        `${this.nodeId}: ${kind} ${name} cannot be called: tags rejected: ${tags.join(", ")}`,
      );
    }
  }

  #heartbeatBody(status: string): Record<string, unknown> {
    return { status, version: this.version, instance_id: this.instanceId };
  }

  #startHeartbeats(client: ControlPlaneClient): void {
    let failing = false;
    const beat = async () => {
      try {
        const code = await client.heartbeat(this.nodeId, this.#heartbeatBody("ready"));
        if (code === 404) {
          this.logger.warn(`${this.nodeId}: unknown to the control plane; registering again`);
          await this.#register(client);
        } else if (failing && code < 400) {
          this.logger.info(`${this.nodeId}: heartbeats are getting through again`);
        }
        failing = code >= 400;
      } catch (error) {
        if (!failing) this.logger.warn(`${this.nodeId}: heartbeat failed (${describe(error)})`);
        failing = true;
      }
    };
    const schedule = () => {
      if (this.#stopping.signal.aborted) return;
      this.#heartbeat = setTimeout(() => {
        void beat().finally(schedule);
      }, this.heartbeatIntervalMs);
    };
    schedule();
  }
}
