/**
 * What the author of a node writes: reasoners, skills and sessions (the Python SDK's
 * `agentfield/declarations.py`). Nothing here talks to the control plane; the node
 * lifecycle (`node.ts`) registers what is declared here.
 */

import type { Agent } from "./agent.js";
import type { ExecutionContext } from "./context.js";
import type { ServedTarget, TargetKind } from "./httpServer.js";
import { normalizeSessionDefinition, type SessionDefinition } from "./sessionDefinition.js";
import type { CapabilityTable } from "./sessionTransport.js";
import type { DeclaredSession, SessionHandler } from "./session.js";

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
  /** webrtc only: `"relay"` (the default: media through the control plane) or `"direct"`. */
  media?: string;
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

/** The node's declared targets; `Agent` (through `NodeLifecycle`) is its only subclass. */
export abstract class Declarations {
  abstract readonly nodeId: string;
  abstract readonly sessionCapabilities?: CapabilityTable;
  readonly #targets = new Map<string, Target>();
  readonly #sessions = new Map<string, DeclaredSession>();

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
    // Agent is the only concrete subclass: the handler's `ctx.agent` is this node.
    const agent = this as unknown as Agent;
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
   * tools by itself). Provider, transport and media are checked now, with the control
   * plane's messages (`SessionTransportError` for an unsupported pair).
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

  /** The registration entries of the declared reasoners or skills. */
  protected registrations(kind: TargetKind): Array<Record<string, unknown>> {
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

  protected get declaredSessions(): ReadonlyMap<string, DeclaredSession> {
    return this.#sessions;
  }

  protected get hasHandlers(): boolean {
    return [...this.#sessions.values()].some((session) => session.handler !== null);
  }

  protected findTarget(kind: TargetKind, name: string): ServedTarget | undefined {
    return this.#targets.get(`${kind}:${name}`);
  }
}
