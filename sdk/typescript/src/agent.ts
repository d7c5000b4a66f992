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
 * wait, heartbeats, agent link and session handler protocol. What an author declares is
 * in `declarations.ts`, the node lifecycle in `node.ts` (and `registration.ts`); `Agent`
 * adds the calls through the control plane.
 */

import { childHeaders, currentContext } from "./context.js";
import { NodeLifecycle } from "./node.js";

export class Agent extends NodeLifecycle {
  override toString(): string {
    return `<Agent ${this.nodeId} ${this.server}>`;
  }

  /**
   * Run `<node>.<name>` through the control plane and return its result. Inside a reasoner,
   * skill or session handler the call joins the current workflow (parent execution, run and
   * session ids). Throws `ExecutionError` (with `status` and `message`) on failure.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async call<T = any>(target: string, input: Record<string, unknown> = {}): Promise<T> {
    return (await this.execute(target, input, childHeaders(currentContext()))) as T;
  }
}
