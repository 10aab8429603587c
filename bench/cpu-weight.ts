/**
 * CPU weights for the bench's processes. Each runs in a session of its own, which on Linux is a
 * scheduling group of its own (an autogroup): the kernel shares the cores between the groups as
 * it shares them between the containers of docker-compose.yml, each a cgroup. A container's
 * `cpu_shares` (1024 by default) is its weight; an autogroup's weight is set by its nice value,
 * each step of which is a factor of 1.25 (the kernel's weight table: nice -6 ≈ 3.8×, -10 ≈ 9.3×).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../lib/runtime-paths';

const DEFAULT_SHARES = 1024;

/** The cpu_shares docker-compose.yml gives a service (1024, Docker's default, when it sets none). */
export function composeCpuShares(service: string): number {
  const compose = parse(readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { cpu_shares?: number }>;
  };
  return compose.services[service]?.cpu_shares ?? DEFAULT_SHARES;
}

/** The autogroup nice value whose weight is closest to `shares` relative to the default. */
export function niceForShares(shares: number): number {
  const steps = Math.round(Math.log(shares / DEFAULT_SHARES) / Math.log(1.25));
  return steps === 0 ? 0 : -steps; // never -0
}

/**
 * Sets the weight of the scheduling group of `pid` (a session leader); returns why it could not,
 * or undefined. A weight above the default needs CAP_SYS_NICE, as a negative nice does.
 */
export function setGroupNice(pid: number, nice: number): string | undefined {
  try {
    if (readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() !== '1')
      return 'the kernel does not group processes by session (sched_autogroup_enabled is 0)';
    writeFileSync(`/proc/${pid}/autogroup`, String(nice));
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'the kernel has no autogroups (not Linux, or built without them)';
    if (code === 'EPERM' || code === 'EACCES') return 'raising a weight needs CAP_SYS_NICE (root)';
    return (err as Error).message;
  }
}
