/** How the CLI ends: 0 success, 1 an API refused, 2 bad usage or configuration. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

/** A webhook registration that did not complete safely (exit 1); nothing of it is left behind. */
export class RegistrationError extends Error {}
