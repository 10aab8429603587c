/**
 * Text from outside (Asana's project names, failure messages, targets, error text) made safe for a
 * terminal: anyone who can name a project could otherwise retitle the window, erase lines or
 * overwrite what the CLI printed with escape sequences and carriage returns.
 */
/* eslint-disable no-control-regex -- matching control characters is what this module is for */

/**
 * Escape sequences, removed whole so their parameters do not show: CSI (`ESC [` or 0x9b), the
 * string ones (OSC, DCS, SOS, PM, APC) up to their terminator (BEL or ST) or the end of the text,
 * and the two- and three-character ones (`ESC 7`, `ESC ( B`).
 */
const ESCAPE_SEQUENCE =
  /(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[\x20-\x2f]*[\x30-\x7e]/g;
/** Line breaks and tabs: a space, so words stay apart and a value stays on its line. */
const SPACING = /[\t\n\v\f\r]/g;
/** Every other C0 and C1 control character, and DEL. */
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

/** One line of outside text: no escape sequence, no control character, no line break. */
export function terminalText(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, '').replace(SPACING, ' ').replace(CONTROL, '');
}

/** Text of several lines (the CLI's output): each line made safe, the line breaks kept. */
export function terminalLines(text: string): string {
  return text.split('\n').map(terminalText).join('\n');
}

/** JSON for a terminal: C0 controls are escaped by JSON itself; DEL and C1 controls are escaped here, so the data stays whole. */
export function terminalJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
