/**
 * One session definition, normalized as the control plane does
 * (`agentfield/contract/definition.py`): the wire shape the node registers.
 */

import { validateSessionMedia } from "./sessionMedia.js";
import { pythonStr, validateSessionTransport, type CapabilityTable } from "./sessionTransport.js";
import { normalizeTurnDetection, type TurnDetection } from "./sessionTurnDetection.js";

export const DEFAULT_MODALITIES: readonly string[] = Object.freeze(["audio", "text"]);

/** What registration sends for one session (snake_case, as on the wire). */
export interface SessionDefinition {
  name: string;
  provider: string;
  transport: string;
  /** webrtc: `relay` (the default) or `direct`; `""` for other transports. */
  media: string;
  model: string;
  modalities: string[];
  voice: string;
  tools: string[];
  tags: string[];
  proposed_tags: string[];
  metadata: Record<string, unknown>;
  turn_detection: TurnDetection | null;
  instructions: string;
  handler: boolean;
}

function stringList(value: unknown, field: string): string[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new Error(`session ${field} must be a list of strings`);
  }
  return value.map((item) => item.trim()).filter((item) => item);
}

function tags(value: unknown): string[] {
  const lowered = new Set(stringList(value, "tags").map((tag) => tag.toLowerCase()));
  return [...lowered].sort();
}

function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (value !== null && typeof value === "object") return Object.keys(value).length > 0;
  return Boolean(value);
}

/**
 * Validate and fill in defaults from the wire-shaped `raw`; throw upstream's messages (and
 * the control plane's for `media`). The tables default to the contract's.
 */
export function normalizeSessionDefinition(
  raw: Record<string, unknown>,
  capabilities?: CapabilityTable,
  mediaCapabilities?: CapabilityTable,
): SessionDefinition {
  const name = pythonStr(raw.name).trim();
  if (!name) throw new Error("session name is required");
  const pair = validateSessionTransport(raw.provider, raw.transport, capabilities);
  const media = validateSessionMedia(raw.media, pair.provider, pair.transport, mediaCapabilities);
  const sessionTags = tags(truthy(raw.tags) ? raw.tags : raw.proposed_tags);
  const metadata = truthy(raw.metadata) ? raw.metadata : {};
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
    throw new Error("session metadata must be an object");
  }
  const modalities = stringList(raw.modalities, "modalities");
  const instructions = raw.instructions;
  if (instructions !== undefined && instructions !== null && typeof instructions !== "string") {
    throw new Error("session instructions must be a string");
  }
  return {
    name,
    provider: pair.provider,
    transport: pair.transport,
    media,
    model: pythonStr(raw.model),
    modalities: modalities.length ? modalities : [...DEFAULT_MODALITIES],
    voice: pythonStr(raw.voice),
    tools: stringList(raw.tools, "tools"),
    tags: sessionTags,
    proposed_tags: [...sessionTags],
    metadata: { ...(metadata as Record<string, unknown>) },
    turn_detection: normalizeTurnDetection(raw.turn_detection, pair.provider, pair.transport),
    instructions: instructions || "",
    handler: Boolean(raw.handler ?? false),
  };
}
