/**
 * The node's conversation with the control plane (the Python SDK's `agentfield/node.py`):
 * registration with retries, the wait for tag approval, heartbeats and the status callback
 * of calls answered 202.
 */

import { type ControlPlaneClient, TransientError } from "./controlPlane.js";
import { describe, type Logger } from "./log.js";

export const PENDING = "pending_approval";

/** Who is talking, for the logs, and the signal that the node is stopping. */
export interface NodeIdentity {
  readonly nodeId: string;
  readonly server: string;
  readonly logger: Logger;
  readonly stopping: AbortSignal;
}

/** What a registration (or a poll of the node) says about its state. */
export interface NodeState {
  status: string;
  pendingTags: string[];
}

export function sleep(ms: number): Promise<void> {
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

/** Register, retrying while the control plane is unreachable or failing (5xx). */
export async function register(
  client: ControlPlaneClient,
  payload: () => Record<string, unknown>,
  node: NodeIdentity,
): Promise<NodeState & { dispatchToken: string }> {
  let delay = 500;
  let warned = false;
  let answer: Record<string, unknown>;
  for (;;) {
    try {
      answer = await client.register(payload());
      break;
    } catch (error) {
      if (!(error instanceof TransientError) || node.stopping.aborted) throw error;
      if (!warned) {
        node.logger.warn(
          `${node.nodeId}: the control plane at ${node.server} is not reachable (${error.message}); retrying`,
        );
        warned = true;
      }
      await sleep(delay);
      delay = Math.min(5_000, delay * 2);
    }
  }
  const status = typeof answer.status === "string" && answer.status ? answer.status : "ready";
  node.logger.info(`${node.nodeId} registered with ${node.server} (status ${status})`);
  return {
    dispatchToken: String(answer.dispatch_token),
    status,
    pendingTags: stringList(answer.pending_tags),
  };
}

/** Poll the node until no tag is pending: every `pollMs` at first, then less often (up to
 * 5 times that). `state` is updated after each poll. */
export async function waitForApproval(
  client: ControlPlaneClient,
  node: NodeIdentity,
  state: NodeState,
  pollMs: number,
): Promise<void> {
  let shown: string[] | null = null;
  let answer: Record<string, unknown> | null = null;
  let delay = pollMs;
  while (state.status === PENDING && !node.stopping.aborted) {
    if (shown === null || shown.join(",") !== state.pendingTags.join(",")) {
      shown = state.pendingTags;
      node.logger.warn(
        `${node.nodeId} is waiting for tag approval: ${shown.join(", ") || "-"} ` +
          `(approve at ${node.server}/access/approvals/)`,
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 1.25, pollMs * 5);
    try {
      answer = await client.node(node.nodeId);
    } catch (error) {
      node.logger.debug(`${node.nodeId}: polling the approval state failed: ${describe(error)}`);
      continue;
    }
    state.status = typeof answer.status === "string" ? answer.status : "";
    state.pendingTags = stringList(answer.pending_tags);
  }
  if (answer === null) answer = await client.node(node.nodeId).catch(() => null);
  const rejected = rejectedTargets(answer ?? {});
  if (shown !== null && !rejected.length) node.logger.info(`${node.nodeId}: tags approved`);
  for (const [kind, name, tags] of rejected) {
    node.logger.warn(
      `${node.nodeId}: ${kind} ${name} cannot be called: tags rejected: ${tags.join(", ")}`,
    );
  }
}

/** Heartbeat every `intervalMs` until the node stops; a 404 registers again. Returns
 * what cancels the next beat. */
export function startHeartbeats(
  client: ControlPlaneClient,
  node: NodeIdentity,
  intervalMs: number,
  body: (status: string) => Record<string, unknown>,
  registerAgain: () => Promise<void>,
): () => void {
  let failing = false;
  let timer: NodeJS.Timeout | null = null;
  const beat = async () => {
    try {
      const code = await client.heartbeat(node.nodeId, body("ready"));
      if (code === 404) {
        node.logger.warn(`${node.nodeId}: unknown to the control plane; registering again`);
        await registerAgain();
      } else if (failing && code < 400) {
        node.logger.info(`${node.nodeId}: heartbeats are getting through again`);
      }
      failing = code >= 400;
    } catch (error) {
      if (!failing) node.logger.warn(`${node.nodeId}: heartbeat failed (${describe(error)})`);
      failing = true;
    }
  };
  const schedule = () => {
    if (node.stopping.aborted) return;
    timer = setTimeout(() => {
      void beat().finally(schedule);
    }, intervalMs);
  };
  schedule();
  return () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
}

/** The outcome of a call answered 202; retried while the control plane is unreachable. */
export async function reportOutcome(
  client: ControlPlaneClient,
  node: Pick<NodeIdentity, "nodeId" | "logger">,
  executionId: string,
  body: Record<string, unknown>,
): Promise<void> {
  for (
    let attempt = 0, delay = 500;
    attempt < 8;
    attempt += 1, delay = Math.min(delay * 2, 10_000)
  ) {
    try {
      const status = await client.reportStatus(executionId, body);
      if (status < 500) {
        if (status >= 400)
          node.logger.warn(
            `${node.nodeId}: the status callback of execution ${executionId} answered ${status}`,
          );
        return;
      }
    } catch (error) {
      if (!(error instanceof TransientError)) throw error;
    }
    await sleep(delay);
  }
  node.logger.error(`${node.nodeId}: could not report execution ${executionId}`);
}
