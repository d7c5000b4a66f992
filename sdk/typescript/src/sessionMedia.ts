/**
 * How a `webrtc` session's media flows: the control plane's table and messages
 * (`agentfield/contract/media.py`), byte for byte. A test compares both.
 *
 * `relay` (the default): the browser's peer is the control plane's own, which carries the
 * media to the provider. `direct`: the browser's media goes straight to the provider and
 * the control plane keeps a sideband. Other transports declare no media (`""`).
 */

import { normalizeSessionValue, type CapabilityTable } from "./sessionTransport.js";

export const SESSION_MEDIA: readonly string[] = Object.freeze(["direct", "relay"]);
export const DEFAULT_SESSION_MEDIA = "relay";
const MEDIA_TRANSPORT = "webrtc";

/** provider -> the media it can do over webrtc; a provider not listed relays only. */
export const SUPPORTED_SESSION_MEDIA: CapabilityTable = Object.freeze({
  openai: Object.freeze(["direct", "relay"]),
});

function listed(values: readonly string[]): string {
  return [...values].sort().join(", ") || "none";
}

/**
 * The normalized media: `relay` or `direct` for `webrtc`, `""` for other transports.
 * `provider` and `transport` must already be normalized and valid; `supported` is the
 * deployment's table (a media the contract allows but it lacks is turned off there).
 */
export function validateSessionMedia(
  media: unknown,
  provider: string,
  transport: string,
  supported: CapabilityTable = SUPPORTED_SESSION_MEDIA,
): string {
  let value = normalizeSessionValue(media);
  if (value && !SESSION_MEDIA.includes(value)) {
    throw new Error(
      `Unknown session media '${value}'. Known media: ${listed(SESSION_MEDIA)}. ` +
        "AgentField does not infer media; set media explicitly.",
    );
  }
  if (transport !== MEDIA_TRANSPORT) {
    if (value !== "" && value !== DEFAULT_SESSION_MEDIA) {
      throw new Error(
        `Session media applies to transport '${MEDIA_TRANSPORT}' only; transport ` +
          `'${transport}' always carries its media through the control plane. ` +
          "Leave media out or set it to relay.",
      );
    }
    return "";
  }
  value = value || DEFAULT_SESSION_MEDIA;
  const allowed = Object.hasOwn(supported, provider)
    ? supported[provider]
    : [DEFAULT_SESSION_MEDIA];
  if (allowed.includes(value)) return value;
  const contract = Object.hasOwn(SUPPORTED_SESSION_MEDIA, provider)
    ? SUPPORTED_SESSION_MEDIA[provider]
    : [];
  if (contract.includes(value)) {
    throw new Error(
      `This control plane has ${value} media turned off. Supported media for ` +
        `provider '${provider}': ${listed(allowed)}. AgentField does not infer media; ` +
        "set media explicitly.",
    );
  }
  throw new Error(
    `Unsupported session media '${value}' for provider '${provider}'. Supported media: ` +
      `${listed(allowed)}. AgentField does not infer media; set media explicitly.`,
  );
}
