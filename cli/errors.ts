/** How the CLI ends: 0 success, 1 an API refused, 2 bad usage or configuration. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

/** A webhook registration that did not complete safely (exit 1); nothing of it is left behind. */
export class RegistrationError extends Error {}

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** Renders rows as an aligned text table. */
export function formatTable(columns: string[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
