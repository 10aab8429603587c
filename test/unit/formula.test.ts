import assert from 'node:assert/strict';
import { compileFormula, formulaMatches, FormulaError } from '../../emulators/formula';

const matches = (formula: string, fields: Record<string, unknown>) => formulaMatches(compileFormula(formula), fields, 'rec1');

describe('the Airtable emulator: filterByFormula', () => {
  it('matches fields against escaped strings', () => {
    assert.equal(matches("{Task ID} = '12\\'3'", { 'Task ID': "12'3" }), true);
    assert.equal(matches("{Task ID} = '123'", { 'Task ID': '124' }), false);
    assert.equal(matches("{Task ID} != '123'", { 'Task ID': '124' }), true);
  });

  it('supports OR, AND, NOT, BLANK and RECORD_ID', () => {
    assert.equal(matches("OR({Task ID} = '1', {Task ID} = '2')", { 'Task ID': '2' }), true);
    assert.equal(matches("AND({Name} = 'a', NOT({Assignee} = BLANK()))", { Name: 'a' }), false);
    assert.equal(matches("RECORD_ID() = 'rec1'", {}), true);
  });

  it('rejects what it cannot parse', () => {
    assert.throws(() => compileFormula("{Task ID = '1'"), FormulaError);
    assert.throws(() => compileFormula('SQRT({x})'), FormulaError);
    assert.throws(() => compileFormula("{x} = '1' junk"), FormulaError);
  });
});
