/**
 * The AgentField SDK for TypeScript: agent nodes with reasoners, skills and sessions.
 * It talks to the control plane over HTTP and WebSockets only.
 *
 * ```ts
 * import { Agent } from "@agentfield/sdk";
 *
 * const agent = new Agent({ nodeId: "voice-support-af" });
 * agent.session("voice", { provider: "openai", transport: "webrtc" }, async (session) => {
 *   const turn = await session.input();
 *   const result = await session.call("support.resolveVoiceTurn", { turn });
 *   await session.say(result.spokenResponse);
 * });
 * await agent.serve();
 * ```
 */

export { Agent } from "./agent.js";
export {
  type ReasonerContext,
  type ReasonerHandler,
  type SessionOptions,
  type TargetOptions,
} from "./declarations.js";
export { DEFAULT_SERVER, type AgentOptions } from "./node.js";
export { currentContext, type ExecutionContext } from "./context.js";
export { AgentFieldError, ExecutionError, RegistrationRefused, SessionEnded } from "./errors.js";
export type { Logger } from "./log.js";
export { RealtimeSession, type SessionHandler, type SessionTurn } from "./session.js";
export { normalizeSessionDefinition, type SessionDefinition } from "./sessionDefinition.js";
export {
  DEFAULT_SESSION_MEDIA,
  SESSION_MEDIA,
  SUPPORTED_SESSION_MEDIA,
  validateSessionMedia,
} from "./sessionMedia.js";
export {
  SUPPORTED_SESSION_TRANSPORTS,
  SessionTransportError,
  validateSessionTransport,
  type CapabilityTable,
  type SessionTransportCapability,
} from "./sessionTransport.js";
export { normalizeTurnDetection, type TurnDetection } from "./sessionTurnDetection.js";
