/** `npm run cli -- <command>` (bin: asana-airtable-sync). Exit codes: 0 success, 1 an API refused, 2 bad usage or configuration. */
import { ConfigError, loadConfig, type Config, type Need } from '../config';
import { assertNoProblems, readColumnsFile } from '../rows/columns-file';
import { ApiError } from '../lib/api-error';
import { SecretStore } from '../asana/webhook-secrets';
import { terminalLines } from '../lib/terminal-text';
import { RegistrationError, UntrustedAnswer } from '../asana/webhooks';
import { UsageError } from './errors';
import type { Output } from './output';
import { WEBHOOK_COMMANDS } from './webhooks';
import { airtableSetup } from './airtable';
import { backfill } from './backfill';
import { syncCommand } from './sync';
import { openServices, type Services } from '../services';
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
 * Runs a command on the process's services, closed after it. With REDIS_URL, its Airtable and Asana
 * requests draw on the budgets the workers share, so an operator's command in the middle of a
 * burst cannot cost the base a lock-out.
 */
async function withServices<T>(config: Config, run: (services: Services) => Promise<T>): Promise<T> {
  const services = await openServices(config, createLogger('silent', 'cli')); // stdout is the command's
  try {
    return await run(services);
  } finally {
    await services.close();
  }
}

export async function runCli(argv: string[], output: Output): Promise<number> {
  try {
    const [group, command, ...args] = argv;
    if (group === 'webhooks' && command !== undefined && command in WEBHOOK_COMMANDS) {
      const config = loadCliConfig(['asana']);
      await withServices(config, ({ asana }) =>
        WEBHOOK_COMMANDS[command]({ config, api: asana, secrets: new SecretStore(config.dataDir), output }, args),
      );
      return 0;
    }
    if (group === 'airtable' && command === 'setup') {
      const config = loadCliConfig(['airtable']);
      return await withServices(config, (services) => airtableSetup(services, output, args));
    }
    if (group === 'backfill' || group === 'sync') {
      const config = loadCliConfig([]);
      const rest = [command, ...args].filter((a) => a !== undefined);
      return await withServices(config, (services) => {
        const connect = async () => (await services.temporal()).client;
        if (group === 'sync') return syncCommand(config, connect, output, rest);
        const projectLabel = (gid: string) => (config.asana.accessToken ? services.asana.projectLabel(gid) : Promise.resolve(gid));
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
