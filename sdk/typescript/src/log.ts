/** The SDK's log lines: `<ISO time> <LEVEL> <message>` on stderr, like the Python SDK's. */

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

function threshold(): number {
  const wanted = (process.env.AGENTFIELD_LOG_LEVEL || "info").toLowerCase();
  return wanted in LEVELS ? LEVELS[wanted as Level] : LEVELS.info;
}

function line(level: Level, message: string): void {
  if (LEVELS[level] < threshold()) return;
  const name = level === "warn" ? "WARNING" : level.toUpperCase();
  process.stderr.write(`${new Date().toISOString()} ${name} ${message}\n`);
}

/** The default logger (`AGENTFIELD_LOG_LEVEL` = debug | info | warn | error; default info). */
export const defaultLogger: Logger = {
  debug: (message) => line("debug", message),
  info: (message) => line("info", message),
  warn: (message) => line("warn", message),
  error: (message) => line("error", message),
};

/** The error's name and message, for logs: never a stack of request data. */
export function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
