// Voice support in TypeScript: a session handler on one node, the support reasoner on
// another, both in this process (the Python example, examples/voice_support/, in
// @agentfield/sdk). See README.md for running it beside `make run`.
//
//   AGENTFIELD_SERVER        the control plane (default http://127.0.0.1:8000)
//   AGENTFIELD_API_KEY       the agent key of the voice node
//   SUPPORT_AGENTFIELD_API_KEY  the agent key of the support node (default AGENTFIELD_API_KEY)
//   VOICE_NODE_ID, SUPPORT_NODE_ID  node ids (default voice-support-ts, support-ts)
//   VOICE_TRANSPORT=websocket  also declare voice_websocket, for server-side clients
import {
  Agent,
  type RealtimeSession,
  type ReasonerContext,
  type SessionOptions,
} from "@agentfield/sdk";

import { orderNumberOf } from "./spokenNumbers.js";

const VOICE_NODE = process.env.VOICE_NODE_ID || "voice-support-ts";
const SUPPORT_NODE = process.env.SUPPORT_NODE_ID || "support-ts";

interface Turn {
  text: string;
  modality: string;
  audio_ms: number;
  turn_id: string;
}

interface Answer {
  spokenResponse: string;
  intent: string;
  orderNumber: string | null;
  orderStatus: string | null;
  turnId?: string;
}

// --- the support node: one reasoner that looks an order up ---------------------------------

const ORDERS: Record<string, Record<string, string>> = {
  "1042": { status: "shipped", carrier: "UPS", eta: "Friday", item: "noise-cancelling headphones" },
  "2077": { status: "processing", eta: "next Tuesday", item: "a standing desk" },
  "3150": { status: "delivered", delivered: "Monday", item: "a coffee grinder" },
  "4821": { status: "cancelled", refund: "3 to 5 business days", item: "a tablet stand" },
};

function spokenStatus(number: string, order: Record<string, string>): string {
  const { item, status } = order;
  if (status === "shipped") {
    return `Order ${number}, ${item}, shipped with ${order.carrier} and should arrive on ${order.eta}.`;
  }
  if (status === "processing") {
    return `Order ${number}, ${item}, is being prepared and should ship by ${order.eta}.`;
  }
  if (status === "delivered")
    return `Order ${number}, ${item}, was delivered on ${order.delivered}.`;
  return `Order ${number}, ${item}, was cancelled. Your refund arrives within ${order.refund}.`;
}

function resolveVoiceTurn(ctx: ReasonerContext<{ turn: Turn }>): Answer {
  const text = String(ctx.input.turn?.text ?? "");
  const number = orderNumberOf(text);
  if (number === undefined) {
    return {
      spokenResponse: "I can help with your order. What is the order number?",
      intent: "ask_order_number",
      orderNumber: null,
      orderStatus: null,
    };
  }
  const order = ORDERS[number];
  if (order === undefined) {
    return {
      spokenResponse: `I could not find order ${number}. Could you check the number?`,
      intent: "order_not_found",
      orderNumber: number,
      orderStatus: null,
    };
  }
  return {
    spokenResponse: spokenStatus(number, order),
    intent: "order_status",
    orderNumber: number,
    orderStatus: order.status,
    turnId: ctx.input.turn.turn_id,
  };
}

// One agent key registers one node id (docs/decisions/0015): the support node has its own.
const SUPPORT_KEY = process.env.SUPPORT_AGENTFIELD_API_KEY;
if (!SUPPORT_KEY) {
  throw new Error(`set SUPPORT_AGENTFIELD_API_KEY to the agent key of ${SUPPORT_NODE}`);
}

const support = new Agent({ nodeId: SUPPORT_NODE, apiKey: SUPPORT_KEY }).reasoner(
  "resolveVoiceTurn",
  resolveVoiceTurn,
  {
    tags: ["support"],
    description: "Answer one caller turn: look up the order number it mentions.",
    inputSchema: { type: "object", properties: { turn: { type: "object" } }, required: ["turn"] },
  },
);

// --- the voice node: the session handler -----------------------------------------------------

const agent = new Agent({ nodeId: VOICE_NODE });

const voice: SessionOptions = {
  provider: "openai",
  model: "gpt-realtime-2",
  transport: "webrtc",
  modalities: ["audio", "text"],
  voice: "marin",
  tools: [`${SUPPORT_NODE}.resolveVoiceTurn`],
  tags: ["support:voice", "pii:limited"],
};

// One turn per invocation: when it returns, the next turn of the caller runs it again, on
// the same call. Saying goodbye hangs up; the caller may hang up at any time (the pending
// `session.input()` then rejects with SessionEnded, which ends the handler quietly).
async function handleTurn(session: RealtimeSession): Promise<void> {
  const turn = await session.input();
  if (/\b(bye|goodbye)\b/i.test(turn.text)) {
    await session.say("Thanks for calling. Goodbye!");
    await session.end("the caller said goodbye");
    return;
  }
  const result = await session.call<Answer>(`${SUPPORT_NODE}.resolveVoiceTurn`, { turn });
  await session.say(result.spokenResponse);
}

agent.session("voice", voice, handleTurn);
if (process.env.VOICE_TRANSPORT === "websocket") {
  agent.session("voice_websocket", { ...voice, transport: "websocket" }, handleTurn);
}

await Promise.all([support.serve(), agent.serve()]);
