// The session host over a recorded link: the lifecycle of handler invocations.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { currentContext } from "../../src/context.js";
import { SessionEnded } from "../../src/errors.js";
import type { Logger } from "../../src/log.js";
import { normalizeSessionDefinition } from "../../src/sessionDefinition.js";
import { SessionHost, type RealtimeSession, type SessionHandler } from "../../src/session.js";

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function host(handler: SessionHandler | null) {
  const sent: Array<Record<string, unknown>> = [];
  const calls: Array<[string, unknown, Record<string, string>]> = [];
  const waiters: Array<() => void> = [];
  const definition = normalizeSessionDefinition({
    name: "voice",
    provider: "openai",
    transport: "websocket",
  });
  const sessionHost = new SessionHost({
    nodeId: "voice-node",
    sessions: new Map([["voice", { definition, handler }]]),
    send: (message) => {
      sent.push(message);
      for (const wake of waiters.splice(0)) wake();
      return Promise.resolve();
    },
    execute: (target, input, headers) => {
      calls.push([target, input, headers]);
      return Promise.resolve({ spokenResponse: `answer ${calls.length}` });
    },
    logger: quiet,
  });
  const until = async (check: () => boolean) => {
    while (!check()) {
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 5);
      });
    }
  };
  return { sessionHost, sent, calls, until };
}

const started = {
  type: "session.started",
  session_id: "s1",
  target: "voice-node.voice",
  caller: "alice",
  metadata: {},
};
const input = (text: string) => ({
  type: "session.input",
  session_id: "s1",
  turn: { text, modality: "text", audio_ms: 0, turn_id: `turn_${text}` },
});

describe("SessionHost", () => {
  it("runs a returning handler again for the next turn, on the same session", async () => {
    const seen: RealtimeSession[] = [];
    const { sessionHost, sent, calls, until } = host(async (session) => {
      seen.push(session);
      const turn = await session.input();
      const result = await session.call("support.resolveVoiceTurn", { turn });
      await session.say(result.spokenResponse);
    });
    await sessionHost.onMessage(started);
    await sessionHost.onMessage(input("one"));
    await until(() => sent.length === 1);
    await sessionHost.onMessage(input("two"));
    await until(() => sent.length === 2);
    assert.deepEqual(sent, [
      { type: "session.say", session_id: "s1", text: "answer 1" },
      { type: "session.say", session_id: "s1", text: "answer 2" },
    ]);
    assert.equal(seen.length, 2);
    assert.equal(seen[0], seen[1]);
    assert.deepEqual(calls[0][1], {
      turn: { text: "one", modality: "text", audio_ms: 0, turn_id: "turn_one" },
    });
    assert.deepEqual(calls[0][2], { "X-Session-ID": "s1" });
    assert.ok(sessionHost.live.has("s1"), "returning did not end the call");
    await sessionHost.onMessage({
      type: "session.ended",
      session_id: "s1",
      reason: "caller hung up",
    });
    await until(() => !sessionHost.live.has("s1"));
    assert.equal(sent.length, 2, "nothing sent after the end");
  });

  it("waits for a new turn after a handler returns without reading the queued one", async () => {
    const runs: number[] = [];
    const { sessionHost, until } = host((session) => {
      runs.push(session.turnsPushed); // never reads its turns
      // Without the rule the host re-runs this in a loop that never yields; past a few runs
      // this ends the call, so the test fails instead of freezing with it.
      if (runs.length > 10) throw new Error("the host spins on a queued turn");
    });
    await sessionHost.onMessage(started);
    await until(() => runs.length >= 1);
    await sessionHost.onMessage(input("one"));
    await until(() => runs.length >= 2);
    // One full turn of the event loop (no wall-clock window): a spinning host, which never
    // yields, would hold this back until its guard ended the call after 10 runs.
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(runs, [0, 1], "the queued turn it left does not make it run again");
    assert.ok(sessionHost.live.has("s1"));
    await sessionHost.onMessage(input("two"));
    await until(() => runs.length >= 3);
    assert.deepEqual(runs, [0, 1, 2], "a newly delivered turn runs it again");
    await sessionHost.onMessage({ type: "session.ended", session_id: "s1", reason: "over" });
    await until(() => !sessionHost.live.has("s1"));
  });

  it("rejects input() with SessionEnded once the call ended", async () => {
    let rejection: unknown;
    const { sessionHost, until } = host(async (session) => {
      try {
        await session.input();
      } catch (error) {
        rejection = error;
        throw error;
      }
    });
    await sessionHost.onMessage(started);
    await sessionHost.onMessage({ type: "session.ended", session_id: "s1", reason: "expired" });
    await until(() => !sessionHost.live.has("s1"));
    assert.ok(rejection instanceof SessionEnded);
    assert.equal(rejection.reason, "expired");
    assert.equal(rejection.message, "session s1 ended: expired");
  });

  it("fails the call with the handler's error message", async () => {
    const { sessionHost, sent, until } = host(async (session) => {
      await session.input();
      throw new RangeError("no such order");
    });
    await sessionHost.onMessage(started);
    await sessionHost.onMessage(input("x"));
    await until(() => sent.length === 1);
    assert.deepEqual(sent, [
      { type: "session.error", session_id: "s1", message: "RangeError: no such order" },
    ]);
    await until(() => !sessionHost.live.has("s1"));
  });

  it("ends the call on session.end(), and runs the handler with the session in its context", async () => {
    let context = "";
    const { sessionHost, sent, until } = host(async (session) => {
      context = currentContext().sessionId;
      await session.end("resolved");
      await session.end("twice");
    });
    await sessionHost.onMessage(started);
    await until(() => !sessionHost.live.has("s1"));
    assert.equal(context, "s1");
    assert.deepEqual(sent, [{ type: "session.end", session_id: "s1", reason: "resolved" }]);
  });

  it("answers a session it has no handler for, and input for an unknown session, with session.error", async () => {
    const { sessionHost, sent } = host(null);
    await sessionHost.onMessage(started);
    await sessionHost.onMessage(input("x"));
    assert.deepEqual(sent, [
      { type: "session.error", session_id: "s1", message: "voice-node has no handler for 'voice'" },
      {
        type: "session.error",
        session_id: "s1",
        message:
          "no handler is running for this session on voice-node (the node may have restarted)",
      },
    ]);
  });
});
