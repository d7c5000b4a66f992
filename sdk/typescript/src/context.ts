/**
 * The execution context of the work in progress (AsyncLocalStorage), so nested calls join
 * its workflow: the node sets it from the headers of each call it serves and for each
 * session handler; `agent.call` turns it back into headers.
 */

import { AsyncLocalStorage } from "node:async_hooks";
import type { IncomingHttpHeaders } from "node:http";

export interface ExecutionContext {
  readonly executionId: string;
  readonly runId: string;
  readonly workflowId: string;
  readonly parentExecutionId: string;
  readonly sessionId: string;
  readonly actorId: string;
}

const EMPTY: ExecutionContext = Object.freeze({
  executionId: "",
  runId: "",
  workflowId: "",
  parentExecutionId: "",
  sessionId: "",
  actorId: "",
});

const storage = new AsyncLocalStorage<ExecutionContext>();

function header(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name.toLowerCase()];
  return (Array.isArray(value) ? value[0] : value || "").trim();
}

export function contextFromHeaders(headers: IncomingHttpHeaders): ExecutionContext {
  return {
    executionId: header(headers, "X-Execution-ID"),
    runId: header(headers, "X-Run-ID"),
    workflowId: header(headers, "X-Workflow-ID"),
    parentExecutionId: header(headers, "X-Parent-Execution-ID"),
    sessionId: header(headers, "X-Session-ID"),
    actorId: header(headers, "X-Actor-ID"),
  };
}

/** The context of a fresh session handler invocation. */
export function sessionContext(sessionId: string): ExecutionContext {
  return { ...EMPTY, sessionId };
}

/** Headers for a call made from inside `context`: it becomes the parent. */
export function childHeaders(
  context: ExecutionContext,
  sessionId?: string,
): Record<string, string> {
  const headers: Record<string, string> = {
    "X-Parent-Execution-ID": context.executionId,
    "X-Run-ID": context.runId,
    "X-Session-ID": sessionId || context.sessionId,
    "X-Actor-ID": context.actorId,
  };
  return Object.fromEntries(Object.entries(headers).filter(([, value]) => value));
}

/** The context of the reasoner, skill or session handler running now (empty outside). */
export function currentContext(): ExecutionContext {
  return storage.getStore() ?? EMPTY;
}

export function runInContext<T>(context: ExecutionContext, work: () => T): T {
  return storage.run(context, work);
}
