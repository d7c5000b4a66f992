// Reads cases (JSON on stdin) and prints what the TypeScript SDK makes of each, for the
// matrix test that compares it with the control plane's Python (tests/sdk_typescript).
import { readFileSync } from "node:fs";

import {
  SUPPORTED_SESSION_MEDIA,
  SUPPORTED_SESSION_TRANSPORTS,
  normalizeSessionDefinition,
  validateSessionMedia,
  validateSessionTransport,
  type CapabilityTable,
} from "@agentfield/sdk";

interface MediaCase {
  media: unknown;
  provider: string;
  transport: string;
  table: CapabilityTable | null;
}

interface Cases {
  pairs: Array<[unknown, unknown]>;
  definitions: Array<Record<string, unknown>>;
  media: MediaCase[];
}

function outcome(work: () => unknown) {
  try {
    return { ok: work() };
  } catch (error) {
    const failure = error as Error;
    return { error: failure.message, name: failure.name };
  }
}

const cases = JSON.parse(readFileSync(0, "utf8")) as Cases;
process.stdout.write(
  JSON.stringify({
    table: SUPPORTED_SESSION_TRANSPORTS,
    mediaTable: SUPPORTED_SESSION_MEDIA,
    pairs: cases.pairs.map(([provider, transport]) =>
      outcome(() => validateSessionTransport(provider, transport)),
    ),
    definitions: cases.definitions.map((raw) => outcome(() => normalizeSessionDefinition(raw))),
    media: cases.media.map(({ media, provider, transport, table }) =>
      outcome(() => validateSessionMedia(media, provider, transport, table ?? undefined)),
    ),
  }),
);
