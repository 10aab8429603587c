/**
 * Text from Asana (task and project names) shown in the Web UI, which renders summaries and
 * details as markdown: escaped, so a name shows as written and cannot add links or images.
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, '\\$&');
}
