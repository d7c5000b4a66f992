// The product brief's TypeScript tab, verbatim, plus `agent.serve()`: a real node process.
import { Agent } from "@agentfield/sdk";

const agent = new Agent({ nodeId: "voice-support-af" });

agent.session("voice", {
  provider: "openai",
  model: "gpt-realtime-2",
  transport: "webrtc",
  modalities: ["audio", "text"],
  voice: "marin",
  tools: ["support.resolveVoiceTurn"],
  tags: ["support:voice", "pii:limited"],
}, async (session) => {
  const turn = await session.input();
  const result = await session.call("support.resolveVoiceTurn", { turn });
  await session.say(result.spokenResponse);
});

await agent.serve();
