/** Where a command writes: stdout and stderr, or a test's buffers. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}
