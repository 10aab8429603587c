import assert from 'node:assert/strict';
import { terminalJson, terminalLines, terminalText } from '../../lib/terminal-text';
import { formatTable } from '../../lib/text-table';

/* eslint-disable no-control-regex -- control characters are what these tests look for */
/** Any C0 or C1 control character or DEL, line breaks included. */
const ANY_CONTROL = /[\x00-\x1f\x7f-\x9f]/;

describe('terminal text', () => {
  it('removes escape sequences whole: window titles, erases, cursor moves, colours', () => {
    const cases: [string, string][] = [
      ['\x1b]0;pwned\x07\x1b[2K\rQ3 plan', ' Q3 plan'],
      ['\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\', 'link'],
      ['\x1b[31mred\x1b[0m \x1b[1;1H\x1b[?25l', 'red '],
      ['\x9b2J\x9d0;title\x9cafter', 'after'],
      ['\x1bPq#0;2;0;0;0\x1b\\sixel', 'sixel'],
      ['save\x1b7 charset\x1b(B', 'save charset'],
      ['unterminated \x1b]0;title', 'unterminated '],
    ];
    for (const [raw, safe] of cases) assert.equal(terminalText(raw), safe, JSON.stringify(raw));
  });

  it('removes lone control characters; line breaks and tabs become spaces', () => {
    assert.equal(terminalText('bell\x07 nul\x00 del\x7f c1\x85\x8d esc\x1b'), 'bell nul del c1 esc');
    assert.equal(terminalText('two\nlines\r\nand\ttab'), 'two lines  and tab');
  });

  it('keeps printable text, Unicode included', () => {
    const text = 'Projet « Été » — 日本語 ✓ [brackets] ~tilde~';
    assert.equal(terminalText(text), text);
  });

  it('keeps the line breaks of output of several lines, nothing else', () => {
    assert.equal(terminalLines('one\x1b[2K\rtwo\nthree\x07'), 'one two\nthree');
  });

  it('escapes DEL and C1 controls in JSON, which JSON leaves raw, so the data survives', () => {
    const value = { name: '\x1b[2K\x9b2J\x7f' };
    const json = terminalJson(value);
    assert.doesNotMatch(json.replaceAll('\n', ''), ANY_CONTROL);
    assert.deepEqual(JSON.parse(json), value);
  });

  it('makes every table cell one safe line, so a name cannot forge a row', () => {
    const table = formatTable(['gid', 'name'], [['1', 'ok\n2  \x1b[32mstored']]);
    assert.equal(table.split('\n').length, 3, table);
    assert.doesNotMatch(table.split('\n')[2], ANY_CONTROL);
  });
});
