/**
 * A small evaluator for Airtable formulas, enough for filterByFormula as clients send it:
 * {Field} references, 'string' / "string" literals with backslash escapes, numbers, = and !=,
 * and the functions OR, AND, NOT, BLANK, RECORD_ID.
 */
export type FormulaValue = string | number | boolean;
export type Formula = (fields: Record<string, unknown>, recordId: string) => FormulaValue;

export class FormulaError extends Error {}

type Token = { kind: 'field' | 'string' | 'number' | 'name' | 'op' | 'paren' | 'comma'; text: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === '{') {
      const end = source.indexOf('}', i);
      if (end < 0) throw new FormulaError('unclosed field reference');
      tokens.push({ kind: 'field', text: source.slice(i + 1, end) });
      i = end + 1;
    } else if (c === "'" || c === '"') {
      let text = '';
      i += 1;
      while (i < source.length && source[i] !== c) {
        if (source[i] === '\\') i += 1;
        text += source[i] ?? '';
        i += 1;
      }
      if (i >= source.length) throw new FormulaError('unclosed string');
      tokens.push({ kind: 'string', text });
      i += 1;
    } else if (/[0-9.]/.test(c)) {
      const match = /^[0-9.]+/.exec(source.slice(i))![0];
      tokens.push({ kind: 'number', text: match });
      i += match.length;
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))![0];
      tokens.push({ kind: 'name', text: match.toUpperCase() });
      i += match.length;
    } else if (source.startsWith('!=', i)) {
      tokens.push({ kind: 'op', text: '!=' });
      i += 2;
    } else if (c === '=') {
      tokens.push({ kind: 'op', text: '=' });
      i += 1;
    } else if (c === '(' || c === ')') {
      tokens.push({ kind: 'paren', text: c });
      i += 1;
    } else if (c === ',') {
      tokens.push({ kind: 'comma', text: c });
      i += 1;
    } else {
      throw new FormulaError(`unexpected character "${c}"`);
    }
  }
  return tokens;
}

const truthy = (v: FormulaValue): boolean => v !== '' && v !== 0 && v !== false;

const FUNCTIONS: Record<string, (args: Formula[]) => Formula> = {
  OR: (args) => (f, id) => args.some((a) => truthy(a(f, id))),
  AND: (args) => (f, id) => args.every((a) => truthy(a(f, id))),
  NOT:
    ([a]) =>
    (f, id) =>
      !truthy(a(f, id)),
  BLANK: () => () => '',
  RECORD_ID: () => (_f, id) => id,
};

export function compileFormula(source: string): Formula {
  const tokens = tokenize(source);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const expect = (kind: Token['kind'], text?: string): Token => {
    const token = tokens[pos];
    if (!token || token.kind !== kind || (text !== undefined && token.text !== text)) throw new FormulaError(`expected ${text ?? kind}`);
    pos += 1;
    return token;
  };

  const primary = (): Formula => {
    const token = tokens[pos++];
    if (!token) throw new FormulaError('unexpected end of formula');
    switch (token.kind) {
      case 'field': {
        const value = (fields: Record<string, unknown>): FormulaValue => {
          const v = fields[token.text];
          return typeof v === 'number' || typeof v === 'boolean' ? v : v === undefined || v === null ? '' : String(v);
        };
        return value;
      }
      case 'string':
        return () => token.text;
      case 'number':
        return () => Number(token.text);
      case 'name': {
        const fn = FUNCTIONS[token.text];
        if (token.text === 'TRUE' || token.text === 'FALSE') return () => token.text === 'TRUE';
        if (!fn) throw new FormulaError(`unknown function ${token.text}`);
        expect('paren', '(');
        const args: Formula[] = [];
        while (peek()?.text !== ')') {
          args.push(comparison());
          if (peek()?.kind === 'comma') pos += 1;
        }
        expect('paren', ')');
        return fn(args);
      }
      case 'paren': {
        if (token.text !== '(') throw new FormulaError('unexpected )');
        const inner = comparison();
        expect('paren', ')');
        return inner;
      }
      default:
        throw new FormulaError(`unexpected ${token.text}`);
    }
  };

  const comparison = (): Formula => {
    const left = primary();
    const op = peek();
    if (op?.kind !== 'op') return left;
    pos += 1;
    const right = primary();
    // Airtable compares a blank field equal to "" and to 0-less blanks alike.
    const equal = (f: Record<string, unknown>, id: string): boolean => String(left(f, id)) === String(right(f, id));
    return op.text === '=' ? equal : (f, id) => !equal(f, id);
  };

  const formula = comparison();
  if (pos !== tokens.length) throw new FormulaError(`unexpected ${tokens[pos].text}`);
  return formula;
}

export function formulaMatches(formula: Formula, fields: Record<string, unknown>, recordId: string): boolean {
  return truthy(formula(fields, recordId));
}
