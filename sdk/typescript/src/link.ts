/**
 * The agent link: the node's WebSocket to `/api/v1/nodes/<node_id>/link` (API.md section 7),
 * carrying session handler traffic. It reconnects with exponential backoff whenever it
 * drops; live sessions survive a reconnect, since the control plane always sends to the
 * node's newest link.
 */

import WebSocket from "ws";

import { describe, type Logger } from "./log.js";

export type LinkMessage = Record<string, unknown> & { type?: unknown; session_id?: unknown };
export type OnMessage = (message: LinkMessage) => Promise<void>;

const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 10_000;
const SEND_WAIT_MS = 10_000;
const PING_INTERVAL_MS = 20_000;
const OPEN_TIMEOUT_MS = 10_000;

export function linkUrl(server: string, nodeId: string): string {
  let base = server.replace(/\/+$/, "");
  if (base.startsWith("https://")) base = "wss://" + base.slice("https://".length);
  else if (base.startsWith("http://")) base = "ws://" + base.slice("http://".length);
  return `${base}/api/v1/nodes/${encodeURIComponent(nodeId)}/link`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export class AgentLink {
  readonly url: string;
  readonly nodeId: string;
  readonly #apiKey: string;
  readonly #onMessage: OnMessage;
  readonly #logger: Logger;
  readonly #stop = new AbortController();
  #ws: WebSocket | null = null;
  #connected = false;
  #waiters: Array<() => void> = [];
  #running: Promise<void> | null = null;
  /** Links that reached `link.ready`, for logs and tests. */
  connections = 0;

  constructor(options: {
    server: string;
    nodeId: string;
    apiKey: string;
    onMessage: OnMessage;
    logger: Logger;
  }) {
    this.url = linkUrl(options.server, options.nodeId);
    this.nodeId = options.nodeId;
    this.#apiKey = options.apiKey;
    this.#onMessage = options.onMessage;
    this.#logger = options.logger;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Keep the link open until `close()`. */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Resolves once the link is up (or after `timeoutMs`, or when closing). */
  waitConnected(timeoutMs?: number): Promise<void> {
    if (this.#connected || this.#stop.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((waiter) => waiter !== finish);
        resolve();
      };
      if (timeoutMs !== undefined) timer = setTimeout(finish, timeoutMs);
      this.#waiters.push(finish);
    });
  }

  #setConnected(connected: boolean): void {
    this.#connected = connected;
    if (connected) for (const waiter of [...this.#waiters]) waiter();
  }

  async #run(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    while (!this.#stop.signal.aborted) {
      const wasReady = await this.#connectOnce(() => {
        backoff = MIN_BACKOFF_MS;
      });
      if (this.#stop.signal.aborted) break;
      if (wasReady) this.#logger.warn(`agent link for ${this.nodeId} dropped; reconnecting`);
      await sleep(backoff * (0.8 + Math.random() * 0.4), this.#stop.signal);
      backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
    }
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** One connection, until it closes; true when it reached `link.ready`. */
  #connectOnce(onReady: () => void): Promise<boolean> {
    return new Promise((resolve) => {
      let ready = false;
      let alive = true;
      const ws = new WebSocket(this.url, {
        headers: { "X-API-Key": this.#apiKey },
        handshakeTimeout: OPEN_TIMEOUT_MS,
        perMessageDeflate: false,
      });
      this.#ws = ws;
      const pinger = setInterval(() => {
        if (!alive) {
          ws.terminate();
          return;
        }
        alive = false;
        ws.ping();
      }, PING_INTERVAL_MS);
      ws.on("pong", () => {
        alive = true;
      });
      ws.on("unexpected-response", (_request, response) => {
        this.#logger.warn(`agent link for ${this.nodeId} refused (HTTP ${response.statusCode})`);
        response.resume();
        ws.terminate();
      });
      ws.on("error", (error) => {
        this.#logger.warn(`agent link for ${this.nodeId} failed: ${describe(error)}`);
      });
      ws.on("message", (data, isBinary) => {
        if (isBinary) return;
        const text = Array.isArray(data)
          ? Buffer.concat(data).toString()
          : Buffer.from(data as ArrayBuffer).toString();
        if (this.#receive(text)) {
          ready = true;
          onReady();
        }
      });
      ws.on("close", () => {
        clearInterval(pinger);
        if (this.#ws === ws) this.#ws = null;
        this.#setConnected(false);
        resolve(ready);
      });
    });
  }

  /** Handle one frame; true when it was `link.ready`. */
  #receive(raw: string): boolean {
    let message: unknown;
    try {
      message = JSON.parse(raw);
    } catch {
      this.#logger.warn(`agent link for ${this.nodeId}: ignoring a frame that is not JSON`);
      return false;
    }
    if (message === null || typeof message !== "object" || Array.isArray(message)) return false;
    const linkMessage = message as LinkMessage;
    const kind = linkMessage.type;
    if (kind === "link.ready") {
      this.connections += 1;
      const again = this.connections > 1 ? " again" : "";
      this.#logger.info(`agent link for ${this.nodeId} is open${again}`);
      this.#setConnected(true);
      return true;
    }
    if (kind === "error") {
      this.#logger.warn(
        `agent link for ${this.nodeId}: control plane says: ${String(linkMessage.message)}`,
      );
      return false;
    }
    this.#onMessage(linkMessage).catch((error: unknown) => {
      this.#logger.error(
        `agent link for ${this.nodeId}: handling ${String(kind)} failed: ${describe(error)}`,
      );
    });
    return false;
  }

  /**
   * Send one message, waiting up to `waitMs` for the link to be up. A message the socket
   * refused (it was closing) is sent again on the next connection, within the same wait.
   */
  async send(message: Record<string, unknown>, waitMs = SEND_WAIT_MS): Promise<void> {
    const deadline = Date.now() + waitMs;
    const text = JSON.stringify(message);
    for (;;) {
      await this.waitConnected(Math.max(0, deadline - Date.now()));
      const ws = this.#ws;
      if (ws !== null && this.#connected) {
        if (ws.readyState === WebSocket.OPEN) {
          const failed = await new Promise<boolean>((resolve) =>
            ws.send(text, (error) => resolve(!!error)),
          );
          if (!failed) return;
        }
        if (this.#ws === ws) this.#setConnected(false); // closing: wait for the next link
      }
      if (Date.now() >= deadline || this.#stop.signal.aborted) {
        throw new Error(`the agent link of ${this.nodeId} is not connected`);
      }
    }
  }

  /** Drop the current connection (the link reconnects); for tests of the reconnect. */
  drop(): void {
    this.#setConnected(false);
    this.#ws?.terminate();
  }

  async close(): Promise<void> {
    this.#stop.abort();
    const ws = this.#ws;
    if (ws !== null) {
      ws.close(1000);
      const timer = setTimeout(() => ws.terminate(), 2_000);
      await this.#running;
      clearTimeout(timer);
    } else {
      await this.#running;
    }
    this.#running = null;
  }
}
