import { type Logger, pino } from "pino";

export type { Logger };

/**
 * Structured JSON logs. Redaction is a second line of defence: code never passes tokens or secrets to the
 * logger in the first place.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: "agent-nonce" },
      redact: {
        paths: [
          "req.headers.authorization",
          "req.headers.cookie",
          "req.headers['x-agent-nonce']",
          "*.secret",
          "*.token",
          "*.key",
        ],
        censor: "[redacted]",
      },
    },
    destination ?? process.stdout,
  );
}
