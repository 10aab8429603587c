/** The lint rule that keeps workflows/ fit for Temporal's sandbox refuses what the sandbox cannot run. */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ESLint } from 'eslint';

describe('lint: workflow code', function () {
  this.timeout(60_000);
  const probe = path.join(__dirname, '..', 'workflows', 'lint-probe.ts');
  after(() => rm(probe, { force: true }));

  it('refuses a Node built-in, a value import of activities and the client SDK in workflows/, and takes `import type`', async () => {
    await writeFile(
      probe,
      [
        "import { readFileSync } from 'node:fs';",
        "import crypto from 'crypto';",
        "import { createActivities } from '../activities';",
        "import type { Activities } from '../activities';",
        "import { Client } from '@temporalio/client';",
        'export const used: unknown[] = [readFileSync, crypto, createActivities, Client];',
        'export type Used = Activities;',
        '',
      ].join('\n'),
    );
    const [result] = await new ESLint().lintFiles([probe]);
    const refused = result.messages.filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.line);
    assert.deepEqual(refused, [1, 2, 3, 5]);
  });
});
