// README.md's TypeScript quick start, verbatim: type-checked under strict by `npm run lint`
// (tests/sdk_typescript/test_snippets.py keeps it equal to the README).
import { Agent } from "@agentfield/sdk";

// one agent key registers one node id: the support node has its own key
const support = new Agent({
  nodeId: "support", apiKey: process.env.SUPPORT_AGENTFIELD_API_KEY,
});
support.reasoner("resolveVoiceTurn", async (ctx) => ({
  spokenResponse: `You said: ${ctx.input.turn.text}`,
}), { tags: ["support"] });

const agent = new Agent({ nodeId: "voice-support-af" });
agent.session("voice", {
  provider: "openai", transport: "webrtc", tools: ["support.resolveVoiceTurn"],
  tags: ["support:voice", "pii:limited"],
}, async (session) => {
  const turn = await session.input();
  const result = await session.call("support.resolveVoiceTurn", { turn });
  await session.say(result.spokenResponse);
});

await Promise.all([support.serve(), agent.serve()]);
