// Two TypeScript nodes in one process, for tests/sdk_typescript:
// - `support-ts`: the reasoner `resolveVoiceTurn` a Python session handler calls;
// - `ts-voice`: a websocket session whose handler answers with `agent.call` (which carries
//   the session id from the handler's context), throws on "fail", hangs up on "bye", and
//   on "drop" drops its agent link and speaks once the link is back.
// Keys: SUPPORT_TS_KEY and TS_VOICE_KEY; the control plane is AGENTFIELD_SERVER.
import { Agent } from "@agentfield/sdk";

const support = new Agent({ nodeId: "support-ts", apiKey: process.env.SUPPORT_TS_KEY });
support.reasoner(
  "resolveVoiceTurn",
  (ctx: { input: { turn: { text: string; turn_id: string } }; sessionId: string }) => ({
    spokenResponse: `TypeScript heard: ${ctx.input.turn.text}`,
    turnId: ctx.input.turn.turn_id,
    sessionId: ctx.sessionId,
  }),
  { tags: ["support"] },
);

const voice = new Agent({ nodeId: "ts-voice", apiKey: process.env.TS_VOICE_KEY });
voice.session(
  "voice",
  {
    provider: "openai",
    transport: "websocket",
    tools: ["support.resolveVoiceTurn"],
    tags: ["support:voice"],
    turnDetection: { type: "server_vad", silenceDurationMs: 500 },
  },
  async (session) => {
    const turn = await session.input();
    if (turn.text.includes("fail")) throw new Error("the handler gave up");
    if (turn.text.includes("drop")) {
      voice.dropLink();
      await session.say("Back on the line.");
      return;
    }
    if (turn.text.includes("bye")) {
      await session.say("Goodbye.");
      await session.end("the caller said bye");
      return;
    }
    const result = await voice.call("support.resolveVoiceTurn", { turn });
    await session.say(result.spokenResponse);
  },
);

await Promise.all([support.serve(), voice.serve()]);
