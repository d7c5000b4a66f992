// A TypeScript node against a real control plane (daphne and a Celery worker), started by
// tests/sdk_typescript/test_typescript_sdk.py, which passes the URL and the keys:
//   AGENTFIELD_SERVER, AGENTFIELD_API_KEY (agent key of node ts-support), TS_ADMIN_KEY,
//   TS_CALLER_KEY (a caller the access policies let call the node's `support` targets).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { Agent, ExecutionError, RegistrationRefused, type ReasonerContext } from "@agentfield/sdk";

const SERVER = required("AGENTFIELD_SERVER");
const ADMIN_KEY = required("TS_ADMIN_KEY");
const CALLER_KEY = required("TS_CALLER_KEY");
const NODE = "ts-support";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through tests/sdk_typescript`);
  return value;
}

async function api(key: string, method: string, path: string, body?: unknown) {
  const response = await fetch(SERVER + path, {
    method,
    headers: { "X-API-Key": key, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function eventually<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let attempt = 0; attempt < 600; attempt += 1) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never: ${what}`);
}

let release: () => void = () => {};
const released = new Promise<void>((resolve) => (release = resolve));
const seen: Array<ReasonerContext> = [];

const agent = new Agent({
  nodeId: NODE,
  heartbeatIntervalMs: 200,
  approvalPollIntervalMs: 50,
  syncWindowMs: 100,
})
  .reasoner(
    "resolveVoiceTurn",
    (ctx: ReasonerContext<{ turn: { text: string } }>) => {
      seen.push(ctx);
      return { spokenResponse: `You said: ${ctx.input.turn.text}`, node: ctx.agent.nodeId };
    },
    { tags: ["support"], description: "Answer one turn." },
  )
  .skill(
    "slowLookup",
    async (ctx: ReasonerContext<{ order: string }>) => {
      await released;
      return { order: ctx.input.order, status: "shipped" };
    },
    { tags: ["support"] },
  )
  .reasoner(
    "brokenLookup",
    () => {
      throw new RangeError("order 7 is not in the table");
    },
    { tags: ["support"] },
  )
  // no handler: model-driven, the realtime model calls the tools by itself
  .session("chat", {
    provider: "OpenAI",
    transport: "websocket",
    tools: [`${NODE}.resolveVoiceTurn`],
    tags: ["support"],
  });

describe("a TypeScript node on a real control plane", () => {
  before(async () => {
    const serving = agent.serve({ handleSignals: false });
    // manual approval: the node waits until an admin approves its proposed tags
    const pending = await eventually(async () => {
      const answer = await api(ADMIN_KEY, "GET", "/api/v1/admin/agents/pending");
      return (answer.body.agents as Array<{ agent_id: string; proposed_tags: string[] }>).find(
        (entry) => entry.agent_id === NODE,
      );
    }, "the node is pending");
    assert.deepEqual(pending.proposed_tags, ["support"]);
    assert.equal(agent.ready, false);
    const node = await api(ADMIN_KEY, "GET", `/api/v1/nodes/${NODE}`);
    assert.equal(node.body.status, "pending_approval");
    const approved = await api(ADMIN_KEY, "POST", `/api/v1/admin/agents/${NODE}/approve-tags`, {
      approved_tags: ["support"],
    });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    await serving;
    assert.equal(agent.ready, true);
  });

  after(async () => {
    release();
    await agent.stop();
    const node = await api(ADMIN_KEY, "GET", `/api/v1/nodes/${NODE}`);
    assert.equal(node.body.status, "offline");
  });

  it("registered its targets and listens on a free port of 127.0.0.1", async () => {
    assert.match(agent.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(agent.baseUrl, "http://127.0.0.1:0");
    const node = (await api(ADMIN_KEY, "GET", `/api/v1/nodes/${NODE}`)).body;
    assert.equal(node.status, "ready");
    assert.equal(node.base_url, agent.baseUrl);
    assert.deepEqual((node.reasoners as Array<{ id: string }>).map((r) => r.id).sort(), [
      "brokenLookup",
      "resolveVoiceTurn",
    ]);
    assert.deepEqual(
      (node.skills as Array<{ id: string }>).map((s) => s.id),
      ["slowLookup"],
    );
    const [chat] = node.sessions as Array<Record<string, unknown>>;
    assert.equal(chat.name, "chat");
    assert.equal(chat.provider, "openai");
    assert.equal(chat.transport, "websocket");
    assert.equal(chat.handler, false);
    assert.deepEqual(chat.tools, [`${NODE}.resolveVoiceTurn`]);
  });

  it("serves a reasoner to an execution: handler(ctx) gets ctx.input and the ids", async () => {
    const turn = { text: "where is order 1042", modality: "text", audio_ms: 0, turn_id: "turn_1" };
    const answer = await api(CALLER_KEY, "POST", `/api/v1/execute/${NODE}.resolveVoiceTurn`, {
      input: { turn },
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.status, "succeeded");
    assert.deepEqual(answer.body.result, {
      spokenResponse: "You said: where is order 1042",
      node: NODE,
    });
    const ctx = seen.at(-1)!;
    assert.deepEqual(ctx.input, { turn });
    assert.equal(ctx.executionId, answer.body.execution_id);
    assert.equal(ctx.runId, answer.body.run_id);
  });

  it("refuses calls without the dispatch token", async () => {
    const url = `${agent.baseUrl}/reasoners/resolveVoiceTurn`;
    const body = JSON.stringify({ turn: { text: "hi" } });
    const bare = await fetch(url, { method: "POST", body });
    assert.equal(bare.status, 401);
    assert.deepEqual(await bare.json(), {
      error: "unauthorized",
      message: "missing or invalid dispatch token",
    });
    const forged = await fetch(url, {
      method: "POST",
      body,
      headers: { Authorization: "Bearer not-the-token" },
    });
    assert.equal(forged.status, 401);
    const health = await fetch(`${agent.baseUrl}/health`);
    assert.deepEqual(await health.json(), { status: "ok", node_id: NODE });
  });

  it("answers long work 202, then reports it through the status callback", async () => {
    const queued = await api(CALLER_KEY, "POST", `/api/v1/execute/async/${NODE}.slowLookup`, {
      input: { order: "1042" },
    });
    assert.equal(queued.status, 202, JSON.stringify(queued.body));
    const id = queued.body.execution_id as string;
    const waiting = await eventually(async () => {
      const execution = (await api(CALLER_KEY, "GET", `/api/v1/executions/${id}`)).body;
      return execution.status_reason === "awaiting the agent's status callback"
        ? execution
        : undefined;
    }, "the node answered 202");
    assert.equal(waiting.status, "running");
    release();
    const done = await eventually(async () => {
      const execution = (await api(CALLER_KEY, "GET", `/api/v1/executions/${id}`)).body;
      return execution.status === "running" ? undefined : execution;
    }, "the status callback arrived");
    assert.equal(done.status, "succeeded");
    assert.deepEqual(done.result, { order: "1042", status: "shipped" });
  });

  it("rejects serve() with RegistrationRefused when the key may not act as the node", async () => {
    const impostor = new Agent({ nodeId: "someone-else", approvalPollIntervalMs: 50 });
    await assert.rejects(impostor.serve({ handleSignals: false }), (error: unknown) => {
      assert.ok(error instanceof RegistrationRefused);
      assert.equal(error.status, 403);
      assert.match(error.message, /^registration refused \(403\): /);
      return true;
    });
    assert.equal(impostor.ready, false);
  });

  it("agent.call returns the result, or throws an error carrying the status and message", async () => {
    const result = await agent.call(`${NODE}.resolveVoiceTurn`, { turn: { text: "hello" } });
    assert.equal(result.spokenResponse, "You said: hello");
    await assert.rejects(agent.call(`${NODE}.brokenLookup`, {}), (error: unknown) => {
      assert.ok(error instanceof ExecutionError);
      assert.equal(error.status, "failed");
      assert.equal(error.httpStatus, 200);
      assert.match(error.message, /RangeError: order 7 is not in the table/);
      assert.ok(error.executionId);
      return true;
    });
    await assert.rejects(agent.call(`${NODE}.noSuchReasoner`, {}), (error: unknown) => {
      assert.ok(error instanceof ExecutionError);
      assert.equal(error.status, "refused");
      assert.equal(error.httpStatus, 404);
      assert.equal(
        error.message,
        `calling ${NODE}.noSuchReasoner failed (404): target '${NODE}.noSuchReasoner' not found`,
      );
      return true;
    });
  });
});
