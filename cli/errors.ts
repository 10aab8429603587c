/** How the CLI ends: 0 success, 1 an API refused, 2 bad usage or configuration. */
export class UsageError extends Error {
  readonly exitCode = 2;
}
