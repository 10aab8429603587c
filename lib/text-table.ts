import { terminalText } from './terminal-text';

/** Renders rows as an aligned text table; cells may come from outside, so each is made one safe line. */
export function formatTable(columns: string[], rows: string[][]): string {
  const safeRows = rows.map((row) => row.map(terminalText));
  const widths = columns.map((c, i) => Math.max(c.length, ...safeRows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...safeRows.map(line)].join('\n');
}
