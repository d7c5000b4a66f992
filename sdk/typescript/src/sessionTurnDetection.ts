/**
 * `turn_detection` for OpenAI sessions: upstream's defaults and messages, as the control
 * plane's `agentfield/contract/turn_detection.py`. Fields are the wire's snake_case; the
 * camelCase spellings (`silenceDurationMs`, ...) are accepted and converted.
 */

export type TurnDetection = Record<string, unknown>;

const TYPES = ["server_vad", "semantic_vad"];
const EAGERNESS = ["auto", "low", "medium", "high"];
const FIELDS = [
  "type",
  "threshold",
  "prefix_padding_ms",
  "silence_duration_ms",
  "create_response",
  "interrupt_response",
  "eagerness",
];
const DURATIONS = ["prefix_padding_ms", "silence_duration_ms"];
const BOOLEANS = ["create_response", "interrupt_response"];
const CAMEL: Record<string, string> = {
  prefixPaddingMs: "prefix_padding_ms",
  silenceDurationMs: "silence_duration_ms",
  createResponse: "create_response",
  interruptResponse: "interrupt_response",
};

export const SERVER_VAD_DEFAULTS: Readonly<TurnDetection> = Object.freeze({
  type: "server_vad",
  threshold: 0.5,
  prefix_padding_ms: 300,
  silence_duration_ms: 500,
  create_response: true,
  interrupt_response: true,
});

export const SEMANTIC_VAD_DEFAULTS: Readonly<TurnDetection> = Object.freeze({
  type: "semantic_vad",
  eagerness: "auto",
  create_response: true,
  interrupt_response: true,
});

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function snakeCase(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [CAMEL[key] ?? key, item]));
}

/**
 * Validated `turn_detection` with defaults filled in, or null where not applicable.
 * Throws upstream's message on a bad value; `provider` and `transport` are normalized.
 * `undefined` and `null` both mean "not given" (Python's None).
 */
export function normalizeTurnDetection(
  value: unknown,
  provider: string,
  transport: string,
): TurnDetection | null {
  const given = value !== undefined && value !== null;
  if (!(provider === "openai" && (transport === "webrtc" || transport === "websocket"))) {
    if (given) {
      throw new Error("turn_detection requires provider=openai and transport=webrtc or websocket");
    }
    return null;
  }
  if (!given) return { ...SERVER_VAD_DEFAULTS };
  if (!isPlainObject(value)) throw new Error("turn_detection must be an object");
  const fields = snakeCase(value);
  for (const [key, item] of Object.entries(fields)) {
    if (!FIELDS.includes(key)) throw new Error(`unknown turn_detection field "${key}"`);
    if (item === null || item === undefined) {
      throw new Error(`turn_detection.${key} must not be null`);
    }
  }
  const kind = fields.type;
  if (typeof kind !== "string" || !TYPES.includes(kind)) {
    throw new Error("turn_detection.type must be server_vad or semantic_vad");
  }
  for (const key of BOOLEANS) {
    if (key in fields && typeof fields[key] !== "boolean") {
      throw new Error(`turn_detection.${key} must be a boolean`);
    }
  }
  if (kind === "server_vad") {
    if ("eagerness" in fields) {
      throw new Error("turn_detection.eagerness is unsupported for server_vad");
    }
    if ("threshold" in fields) {
      const threshold = fields.threshold;
      if (
        typeof threshold !== "number" ||
        !Number.isFinite(threshold) ||
        threshold < 0 ||
        threshold > 1
      ) {
        throw new Error("turn_detection.threshold must be a finite number between 0 and 1");
      }
    }
    for (const key of DURATIONS) {
      if (key in fields) {
        const item = fields[key];
        if (typeof item !== "number" || !Number.isInteger(item) || item < 0) {
          throw new Error(`turn_detection.${key} must be a non-negative integer`);
        }
      }
    }
    return { ...SERVER_VAD_DEFAULTS, ...fields };
  }
  for (const key of ["threshold", ...DURATIONS]) {
    if (key in fields) throw new Error(`turn_detection.${key} is unsupported for semantic_vad`);
  }
  if ("eagerness" in fields && !EAGERNESS.includes(fields.eagerness as string)) {
    throw new Error("turn_detection.eagerness must be auto, low, medium, or high");
  }
  return { ...SEMANTIC_VAD_DEFAULTS, ...fields };
}
