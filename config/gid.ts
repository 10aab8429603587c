/**
 * Asana's gids: strings of digits. At most 32 digits: far above Asana's own (19 today), and short
 * enough for every place a gid goes (a workflow id, a file name, a URL path).
 */
export const GID_PATTERN = '\\d{1,32}';
const GID = new RegExp(`^${GID_PATTERN}$`);

export function isGid(value: string): boolean {
  return GID.test(value);
}
