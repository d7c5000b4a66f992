/**
 * The node lifecycle (the Python SDK's `agentfield/node.py`): listen, register, wait for
 * tag approval, heartbeat, open the agent link, serve, and stop cleanly. `NodeLifecycle`
 * runs what `Declarations` holds; `Agent` adds the calls (`agent.ts`).
 */

import { randomUUID } from "node:crypto";

import { ControlPlaneClient } from "./controlPlane.js";
import { checkTargetName, Declarations } from "./declarations.js";
import { AgentFieldError } from "./errors.js";
import { NodeHttpServer } from "./httpServer.js";
import { AgentLink } from "./link.js";
import { defaultLogger, type Logger } from "./log.js";
import {
  register,
  reportOutcome,
  startHeartbeats,
  waitForApproval,
  type NodeIdentity,
  type NodeState,
} from "./registration.js";
import { SessionHost } from "./session.js";
import type { CapabilityTable } from "./sessionTransport.js";

export const DEFAULT_SERVER = "http://127.0.0.1:8000";
/** A little over the control plane's default sync timeout (60 s). */
export const DEFAULT_CALL_TIMEOUT_MS = 75_000;

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

function urlHost(host: string): string {
  if (host === "" || host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

// One SIGINT/SIGTERM handler for every node `serve()` started in this process.
const served = new Set<NodeLifecycle>();
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

/** Registration, heartbeats, the agent link and the HTTP server of a declared node. */
export abstract class NodeLifecycle extends Declarations {
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
  readonly #apiKey: string;
  #dispatchToken: string | null = null;
  /** The registration state (status, pending tags), updated while approval is awaited. */
  readonly #state: NodeState = { status: "", pendingTags: [] };
  #client: ControlPlaneClient | null = null;
  #httpServer: NodeHttpServer | null = null;
  #link: AgentLink | null = null;
  #host: SessionHost | null = null;
  #stopHeartbeats: (() => void) | null = null;
  #stopping = new AbortController();
  #ready = false;

  constructor(options: AgentOptions) {
    super();
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

  /** True between a successful `serve()` and `stop()`. */
  get ready(): boolean {
    return this.#ready;
  }

  /** The node's status at the control plane ("ready", "pending_approval", ...). */
  get status(): string {
    return this.#state.status;
  }

  set status(status: string) {
    this.#state.status = status;
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
      reasoners: this.registrations("reasoner"),
      skills: this.registrations("skill"),
      sessions,
      communication_config: {
        protocols: ["http", ...(this.hasHandlers ? ["websocket"] : [])],
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

  /**
   * Listen, register, wait for tag approval, heartbeat and open the agent link; resolves
   * once the node is ready. SIGINT and SIGTERM then stop it cleanly and end the process
   * (pass `{ handleSignals: false }` to manage that yourself and call `stop()`).
   */
  async serve(options: { handleSignals?: boolean } = {}): Promise<void> {
    if (this.#httpServer !== null)
      throw new AgentFieldError(`node ${this.nodeId} is already running`);
    const client = this.controlPlane();
    this.#stopping = new AbortController();
    if (options.handleSignals ?? true) {
      served.add(this);
      installSignalHandlers();
    }
    this.#httpServer = new NodeHttpServer({
      nodeId: this.nodeId,
      find: (kind, name) => this.findTarget(kind, name),
      token: () => this.#dispatchToken,
      report: (executionId, body) => reportOutcome(this.controlPlane(), this, executionId, body),
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
      this.#stopHeartbeats = startHeartbeats(
        client,
        this.#identity(),
        this.heartbeatIntervalMs,
        (status) => this.#heartbeatBody(status),
        () => this.#register(client),
      );
      await waitForApproval(client, this.#identity(), this.#state, this.approvalPollIntervalMs);
      if (this.hasHandlers && !this.#stopping.signal.aborted) {
        this.#host = new SessionHost({
          nodeId: this.nodeId,
          sessions: this.declaredSessions,
          send: (message) => this.#send(message),
          execute: (target, input, headers) => this.execute(target, input, headers),
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
    this.#stopHeartbeats?.();
    this.#stopHeartbeats = null;
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

  protected execute(
    target: string,
    input: unknown,
    headers: Record<string, string>,
  ): Promise<unknown> {
    return this.controlPlane().execute(target, input, headers);
  }

  protected controlPlane(): ControlPlaneClient {
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

  #identity(): NodeIdentity {
    return {
      nodeId: this.nodeId,
      server: this.server,
      logger: this.logger,
      stopping: this.#stopping.signal,
    };
  }

  async #send(message: Record<string, unknown>): Promise<void> {
    if (this.#link === null) throw new Error(`the agent link of ${this.nodeId} is not open`);
    await this.#link.send(message);
  }

  async #register(client: ControlPlaneClient): Promise<void> {
    const answer = await register(client, () => this.registrationPayload(), this.#identity());
    this.#dispatchToken = answer.dispatchToken;
    this.#state.status = answer.status;
    this.#state.pendingTags = answer.pendingTags;
  }

  #heartbeatBody(status: string): Record<string, unknown> {
    return { status, version: this.version, instance_id: this.instanceId };
  }
}
