import pino, { type Logger } from 'pino';

/** Paths that could carry a credential; pino writes "[redacted]" there, whatever the caller logs. */
const SECRET_PATHS = [
  'token',
  'secret',
  'signature',
  'headers.authorization',
  'headers["x-hook-secret"]',
  'headers["x-hook-signature"]',
  'req.headers.authorization',
  'req.headers["x-hook-secret"]',
  'req.headers["x-hook-signature"]',
];

export function createLogger(level: string, name: string): Logger {
  return pino({ name, level, redact: { paths: SECRET_PATHS, censor: '[redacted]' } });
}

export type { Logger };
