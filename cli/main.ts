/** `npm run cli -- <command>` (bin: asana-airtable-sync). Exit codes: 0 success, 1 an API refused, 2 bad usage or configuration. */
import { ConfigError, loadConfig, type Config, type Need } from '../config';
import { assertNoProblems, readColumnsFile } from '../rows/columns-file';
import { ApiError } from '../lib/api-error';
import { AsanaApi } from '../asana/api';
import { SecretStore } from '../asana/webhook-secrets';
import { terminalLines } from '../lib/terminal-text';
import { RegistrationError, UntrustedAnswer } from '../asana/webhooks';
import { UsageError } from './errors';
import type { Output } from './output';
import { WEBHOOK_COMMANDS } from './webhooks';
import { airtableSetup } from './airtable';
import { backfill } from './backfill';
import { syncCommand } from './sync';
import { connectClient } from '../temporal/connection';
import { Budgets } from '../budgets';
import { createLogger } from '../lib/logger';

const USAGE = `Usage: npm run cli -- <command>

  webhooks create --project <gid> [--public-url <url>] [--filter task:added ...]
  webhooks ensure [--public-url <url>]                 one active webhook of ours per synced project, with the columns' filters
  webhooks list [--project <gid>] [--json] [--public-url <url>]
  webhooks delete <webhookGid> | --project <gid> [--public-url <url>]
  backfill --project <gid> [--since <iso>]             reconcile now: all tasks, or those modified since
  airtable setup                                       check "Asana Tasks"; create it when missing
  sync --task <gid> [--project <gid>]                  sync one task now (retries a failed one)
`;

/** The configuration, with a bad COLUMNS_FILE refused as bad configuration whatever the command. */
function loadCliConfig(needs: Need[]): Config {
  const config = loadConfig(needs);
  assertNoProblems(readColumnsFile(config.columnsFile).problems);
  return config;
}

/**
 * With REDIS_URL, the command's Airtable and Asana requests draw on the budgets the workers share,
 * so an operator's command in the middle of a burst cannot cost the base a lock-out.
 */
async function withBudgets<T>(config: Config, run: (budgets: Budgets) => Promise<T>): Promise<T> {
  const budgets = await Budgets.open(config.redis, createLogger('silent', 'cli')); // stdout is the command's
  try {
    return await run(budgets);
  } finally {
    await budgets.close();
  }
}

export async function runCli(argv: string[], output: Output): Promise<number> {
  try {
    const [group, command, ...args] = argv;
    if (group === 'webhooks' && command !== undefined && command in WEBHOOK_COMMANDS) {
      const config = loadCliConfig(['asana']);
      await withBudgets(config, (budgets) =>
        WEBHOOK_COMMANDS[command](
          { config, api: new AsanaApi(config.asana, budgets), secrets: new SecretStore(config.dataDir), output },
          args,
        ),
      );
      return 0;
    }
    if (group === 'airtable' && command === 'setup') {
      const config = loadCliConfig(['airtable']);
      return await withBudgets(config, (budgets) => airtableSetup(config, budgets, output, args));
    }
    if (group === 'backfill' || group === 'sync') {
      const config = loadCliConfig([]);
      const connect = () => connectClient(config.temporal);
      const rest = [command, ...args].filter((a) => a !== undefined);
      if (group === 'sync') return await syncCommand(config, connect, output, rest);
      return await withBudgets(config, (budgets) => {
        const projectLabel = (gid: string) =>
          config.asana.accessToken ? new AsanaApi(config.asana, budgets).projectLabel(gid) : Promise.resolve(gid);
        return backfill({ config, connect, output, projectLabel, interactive: process.stdout.isTTY === true }, rest);
      });
    }
    if (group === undefined || group === 'help' || group === '--help') {
      output.out(USAGE);
      return group === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown command "${argv.join(' ')}"`);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      output.err(`error: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof ApiError || err instanceof RegistrationError || err instanceof UntrustedAnswer) {
      output.err(`error: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

export function main(): void {
  // what the CLI prints holds Asana's and Airtable's text: no escape sequence of theirs reaches the terminal
  const output: Output = { out: (l) => console.log(terminalLines(l)), err: (l) => console.error(terminalLines(l)) };
  runCli(process.argv.slice(2), output).then(
    (code) => process.exit(code),
    (err: unknown) => {
      output.err(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}

if (require.main === module) main();
