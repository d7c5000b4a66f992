/**
 * Session handlers on the node: the `session` a handler receives, and the host that runs
 * one call per live session, fed by the agent link (API.md section 7).
 *
 * `session.started` starts the handler; `session.input` queues a turn for it; `session.ended`
 * makes its `input()` and `say()` reject with `SessionEnded`. A handler that returns does not
 * end the call: the next user turn runs it again on the same session. The call ends by
 * `session.end()`, the caller, the control plane (end route, expiry, provider), or a handler
 * that throws: that fails the call with its message (`session.error`), and is logged. None of
 * them ever stops the node.
 */

import { childHeaders, currentContext, runInContext, sessionContext } from "./context.js";
import { SessionEnded } from "./errors.js";
import type { LinkMessage } from "./link.js";
import { describe, type Logger } from "./log.js";
import type { SessionDefinition } from "./sessionDefinition.js";

/** One user turn, as on the wire (the same keys a Python reasoner sees). */
export interface SessionTurn {
  text: string;
  /** `audio` | `text` */
  modality: string;
  audio_ms: number;
  turn_id: string;
}

export type SendMessage = (message: Record<string, unknown>) => Promise<void>;
export type Execute = (
  target: string,
  input: unknown,
  headers: Record<string, string>,
) => Promise<unknown>;
export type SessionHandler = (session: RealtimeSession) => unknown;

/** The handlers of the node's sessions, by session name; `null` for model-driven ones. */
export interface DeclaredSession {
  definition: SessionDefinition;
  handler: SessionHandler | null;
}

const END_GRACE_MS = 2_000;

function turnFrom(raw: unknown): SessionTurn {
  const value = raw && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
  const text = (key: string, fallback: string) => {
    const item = value[key];
    if (item === null || item === undefined || item === "") return fallback;
    return typeof item === "string" ? item : JSON.stringify(item);
  };
  return {
    text: text("text", ""),
    modality: text("modality", "text"),
    audio_ms: Math.trunc(Number(value.audio_ms) || 0),
    turn_id: text("turn_id", ""),
  };
}

/**
 * One live call of a session the node declared with a handler.
 *
 * `await input()` waits for the caller's next turn, `await say(text)` speaks exactly that
 * text, `await call(target, input)` runs a reasoner or skill through the control plane with
 * this session's id attached, and `await end()` hangs up.
 */
export class RealtimeSession {
  readonly sessionId: string;
  readonly name: string;
  readonly target: string;
  readonly caller: string;
  readonly metadata: Record<string, unknown>;
  readonly definition: SessionDefinition;
  endReason = "";
  readonly #send: SendMessage;
  readonly #execute: Execute;
  readonly #turns: SessionTurn[] = [];
  #ended = false;
  #wakers: Array<() => void> = [];
  #turnsPushed = 0;
  #turnsTaken = 0;

  constructor(options: {
    sessionId: string;
    name: string;
    target: string;
    caller: string;
    metadata: Record<string, unknown>;
    definition: SessionDefinition;
    send: SendMessage;
    execute: Execute;
  }) {
    this.sessionId = options.sessionId;
    this.name = options.name;
    this.target = options.target;
    this.caller = options.caller;
    this.metadata = { ...options.metadata };
    this.definition = options.definition;
    this.#send = options.send;
    this.#execute = options.execute;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Turns the control plane delivered. */
  get turnsPushed(): number {
    return this.#turnsPushed;
  }

  /** Turns `input()` returned. */
  get turnsTaken(): number {
    return this.#turnsTaken;
  }

  /** True while a delivered turn waits to be read. */
  get hasTurn(): boolean {
    return this.#turns.length > 0;
  }

  /**
   * The next user turn. Rejects with `SessionEnded` once the call is over, and with an
   * error named `TimeoutError` when `timeoutMs` passes without a turn.
   */
  async input(options: { timeoutMs?: number } = {}): Promise<SessionTurn> {
    for (;;) {
      if (this.#ended) throw new SessionEnded(this.sessionId, this.endReason);
      const turn = this.#turns.shift();
      if (turn !== undefined) {
        this.#turnsTaken += 1;
        return turn;
      }
      if (!(await this.#wake(options.timeoutMs))) {
        const error = new Error(`no turn within ${options.timeoutMs} ms`);
        error.name = "TimeoutError";
        throw error;
      }
    }
  }

  /** Speak exactly `text` to the caller (`metadata` is accepted for upstream compatibility
   * and not sent). */
  async say(text: string, _metadata?: Record<string, unknown>): Promise<void> {
    if (this.#ended) throw new SessionEnded(this.sessionId, this.endReason);
    await this.#send({ type: "session.say", session_id: this.sessionId, text: String(text) });
  }

  /** Hang up. Idempotent; a no-op once the call is over. */
  async end(reason?: string): Promise<void> {
    if (this.#ended) return;
    const message: Record<string, unknown> = { type: "session.end", session_id: this.sessionId };
    if (reason) message.reason = reason;
    await this.#send(message);
    this.markEnded(reason || "ended by the handler");
  }

  /**
   * Run `<node>.<name>` through the control plane with this session's id attached; the
   * result, or an `ExecutionError` carrying the status and message.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async call<T = any>(target: string, input: Record<string, unknown> = {}): Promise<T> {
    const headers = childHeaders(currentContext(), this.sessionId);
    return (await this.#execute(target, input, headers)) as T;
  }

  // --- fed by the host -------------------------------------------------------------------

  /** Until more than `after` turns have been delivered, or the call is over. */
  async waitForTurn(after: number): Promise<void> {
    while (!this.#ended && this.#turnsPushed <= after) await this.#wake();
  }

  pushTurn(turn: SessionTurn): void {
    if (this.#ended) return;
    this.#turns.push(turn);
    this.#turnsPushed += 1;
    this.#wakeAll();
  }

  markEnded(reason = ""): void {
    if (this.#ended) return;
    this.#ended = true;
    this.endReason = reason;
    this.#wakeAll();
  }

  #wakeAll(): void {
    const wakers = this.#wakers;
    this.#wakers = [];
    for (const wake of wakers) wake();
  }

  /** Resolves true on a new turn or the end, false after `timeoutMs`. */
  #wake(timeoutMs?: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.#wakers = this.#wakers.filter((waker) => waker !== wake);
              resolve(false);
            }, timeoutMs);
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#wakers.push(wake);
    });
  }
}

export class SessionHost {
  readonly nodeId: string;
  readonly live = new Map<string, RealtimeSession>();
  readonly #sessions: ReadonlyMap<string, DeclaredSession>;
  readonly #send: SendMessage;
  readonly #execute: Execute;
  readonly #logger: Logger;
  readonly #runs = new Map<string, Promise<void>>();

  constructor(options: {
    nodeId: string;
    sessions: ReadonlyMap<string, DeclaredSession>;
    send: SendMessage;
    execute: Execute;
    logger: Logger;
  }) {
    this.nodeId = options.nodeId;
    this.#sessions = options.sessions;
    this.#send = options.send;
    this.#execute = options.execute;
    this.#logger = options.logger;
  }

  /** One message from the link. Its synchronous part runs at once, so messages keep their
   * order (a `session.input` never overtakes its `session.started`). */
  async onMessage(message: LinkMessage): Promise<void> {
    const sessionId = typeof message.session_id === "string" ? message.session_id : "";
    if (!sessionId) return;
    if (message.type === "session.started") await this.#start(sessionId, message);
    else if (message.type === "session.input") await this.#input(sessionId, message);
    else if (message.type === "session.ended") {
      this.live.get(sessionId)?.markEnded(typeof message.reason === "string" ? message.reason : "");
    }
  }

  async #start(sessionId: string, message: LinkMessage): Promise<void> {
    if (this.live.has(sessionId)) return;
    const target = typeof message.target === "string" ? message.target : "";
    const dot = target.indexOf(".");
    const name = dot >= 0 ? target.slice(dot + 1) : target;
    const declared = this.#sessions.get(name);
    if (declared === undefined || declared.handler === null) {
      this.#logger.warn(`session ${sessionId}: ${this.nodeId} has no handler for '${name}'`);
      await this.#tell("session.error", sessionId, {
        message: `${this.nodeId} has no handler for '${name}'`,
      });
      return;
    }
    const metadata = message.metadata;
    const session = new RealtimeSession({
      sessionId,
      name,
      target,
      caller: typeof message.caller === "string" ? message.caller : "",
      metadata:
        metadata && typeof metadata === "object" ? (metadata as Record<string, unknown>) : {},
      definition: declared.definition,
      send: this.#send,
      execute: this.#execute,
    });
    this.live.set(sessionId, session);
    this.#logger.info(`session ${sessionId} started (${target}, caller ${session.caller || "-"})`);
    this.#runs.set(sessionId, this.#run(session, declared.handler));
  }

  async #input(sessionId: string, message: LinkMessage): Promise<void> {
    const session = this.live.get(sessionId);
    if (session === undefined) {
      await this.#tell("session.error", sessionId, {
        message: `no handler is running for this session on ${this.nodeId} (the node may have restarted)`,
      });
      return;
    }
    session.pushTurn(turnFrom(message.turn));
  }

  /**
   * The handler, invoked again for each next turn after it returns, until the call ends.
   * After a return it runs again at once only if a turn is queued and the handler read one
   * or a new one arrived meanwhile; otherwise it waits for a turn delivered later, so a
   * handler that leaves a turn queued never spins (docs/decisions/0019).
   */
  async #run(session: RealtimeSession, handler: SessionHandler): Promise<void> {
    try {
      while (!session.ended) {
        const taken = session.turnsTaken;
        const pushed = session.turnsPushed;
        await runInContext(sessionContext(session.sessionId), async () => {
          await handler(session);
        });
        if (session.ended) break;
        const moved = session.turnsTaken > taken || session.turnsPushed > pushed;
        if (!(session.hasTurn && moved)) await session.waitForTurn(session.turnsPushed);
      }
    } catch (error) {
      if (!(error instanceof SessionEnded) && !session.ended) {
        this.#logger.error(`session ${session.sessionId}: the handler failed: ${describe(error)}`);
        session.markEnded("handler error");
        await this.#tell("session.error", session.sessionId, { message: describe(error) });
      } else if (!(error instanceof SessionEnded)) {
        this.#logger.warn(
          `session ${session.sessionId}: the handler failed after the call ended: ${describe(error)}`,
        );
      }
    } finally {
      this.live.delete(session.sessionId);
      this.#runs.delete(session.sessionId);
      this.#logger.info(`session ${session.sessionId} is over (${session.endReason || "-"})`);
    }
  }

  async #tell(
    kind: string,
    sessionId: string,
    fields: Record<string, unknown> = {},
  ): Promise<void> {
    if (typeof fields.message === "string") fields.message = fields.message.slice(0, 300);
    try {
      await this.#send({ type: kind, session_id: sessionId, ...fields });
    } catch (error) {
      this.#logger.warn(`session ${sessionId}: could not send ${kind}: ${describe(error)}`);
    }
  }

  /** End every live call, then give the handlers a moment to finish. */
  async shutdown(reason = "the agent node is shutting down"): Promise<void> {
    for (const [sessionId, session] of this.live) {
      if (!session.ended) {
        await this.#tell("session.end", sessionId, { reason });
        session.markEnded(reason);
      }
    }
    const runs = [...this.#runs.values()];
    if (runs.length) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(runs),
        new Promise((resolve) => (timer = setTimeout(resolve, END_GRACE_MS))),
      ]);
      clearTimeout(timer);
    }
  }
}
