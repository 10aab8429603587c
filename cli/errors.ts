/** How the CLI ends: 0 success, 1 an API refused, 2 bad usage or configuration. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

/** A webhook registration that did not complete safely (exit 1); the message says what, if anything, is left behind. */
export class RegistrationError extends Error {}

/** An answer of Asana's the CLI will not act on (exit 1): a gid that is not one, or not the one asked for. */
export class UntrustedAnswer extends Error {}
