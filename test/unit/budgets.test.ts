import assert from 'node:assert/strict';
import { airtableBudget, asanaBudget, Budgets } from '../../budgets';
import { PacingStopped } from '../../budgets/pacer';

const asana = { accessToken: 'token-1', requestsPerMinute: 600 };
const airtable = { baseId: 'appBASE', requestsPerSecond: 5 };

describe('the budgets of a process', () => {
  it('give every client of one Asana token, or one Airtable base, the same pacer', () => {
    const budgets = new Budgets();
    assert.equal(budgets.pacer(asanaBudget(asana)), budgets.pacer(asanaBudget({ ...asana })));
    assert.equal(budgets.pacer(airtableBudget(airtable)), budgets.pacer(airtableBudget({ ...airtable })));
    assert.notEqual(budgets.pacer(asanaBudget(asana)), budgets.pacer(asanaBudget({ ...asana, accessToken: 'token-2' })));
    assert.equal(budgets.sharedThroughRedis, false);
  });

  it('let two readers of one token take turns: the second waits for the budget the first spent', async () => {
    const budgets = new Budgets();
    const [first, second] = [budgets.pacer(asanaBudget(asana)), budgets.pacer(asanaBudget(asana))];
    const grants: number[] = [];
    const started = Date.now();
    await Promise.all([first, second, first].map((pacer) => pacer.run(async () => void grants.push(Date.now() - started))));
    assert.ok(grants[2] >= 150, `three requests at 10 a second granted at ${grants.join(', ')} ms`);
  });

  it('end every wait for a turn at stop(), and every later one', async () => {
    const budgets = new Budgets();
    const pacer = budgets.pacer(asanaBudget(asana));
    pacer.pause(60_000);
    const waiting = pacer.run(async () => 'sent');
    budgets.stop();
    await assert.rejects(waiting, PacingStopped);
    await assert.rejects(
      budgets.pacer(airtableBudget(airtable)).run(async () => 'sent'),
      PacingStopped,
    );
  });
});
