/**
 * Session provider/transport validation: the control plane's table and messages
 * (`agentfield/contract/matrix.py`), byte for byte. A test compares both.
 */

export type CapabilityTable = Readonly<Record<string, readonly string[]>>;

export const SUPPORTED_SESSION_TRANSPORTS: CapabilityTable = Object.freeze({
  openai: Object.freeze(["webrtc", "websocket"]),
  openrouter: Object.freeze(["audio_turns"]),
});

/** The provider does not support the transport. Carries the normalized values. */
export class SessionTransportError extends Error {
  readonly provider: string;
  readonly transport: string;
  readonly supported: readonly string[];

  constructor(provider: string, transport: string, supported: readonly string[]) {
    const sorted = [...supported].sort();
    super(
      `Unsupported session transport '${transport}' for provider '${provider}'. ` +
        `Supported transports: ${sorted.join(", ") || "none"}. AgentField does not infer or ` +
        "switch providers; set provider and transport explicitly.",
    );
    this.name = "SessionTransportError";
    this.provider = provider;
    this.transport = transport;
    this.supported = sorted;
  }
}

export interface SessionTransportCapability {
  provider: string;
  transport: string;
}

/** Python's `str(value or "")`: what a missing or odd value reads as in the messages. */
export function pythonStr(value: unknown): string {
  if (value === null || value === undefined || value === false || value === 0 || value === "") {
    return "";
  }
  if (value === true) return "True";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint") return value.toString();
  return JSON.stringify(value) ?? "";
}

/** Trimmed, lowercased, `-` becomes `_`. */
export function normalizeSessionValue(value: unknown): string {
  return pythonStr(value).trim().toLowerCase().replaceAll("-", "_");
}

/** Check in upstream's order; the normalized pair, or throw with upstream's message. */
export function validateSessionTransport(
  provider: unknown,
  transport: unknown,
  capabilities: CapabilityTable = SUPPORTED_SESSION_TRANSPORTS,
): SessionTransportCapability {
  const normalizedProvider = normalizeSessionValue(provider);
  const normalizedTransport = normalizeSessionValue(transport);
  if (!normalizedProvider) {
    throw new Error("Session provider is required; AgentField does not infer providers.");
  }
  if (!normalizedTransport) {
    throw new Error("Session transport is required; AgentField does not infer transports.");
  }
  if (!Object.hasOwn(capabilities, normalizedProvider)) {
    const known = Object.keys(capabilities).sort().join(", ");
    throw new Error(
      `Unknown session provider '${pythonStr(provider)}'. Known providers: ${known}. ` +
        "Register provider capabilities before using a custom session provider.",
    );
  }
  const supported = capabilities[normalizedProvider];
  if (!supported.includes(normalizedTransport)) {
    throw new SessionTransportError(normalizedProvider, normalizedTransport, supported);
  }
  return { provider: normalizedProvider, transport: normalizedTransport };
}
