/**
 * net.ipv4.tcp_migrate_req (Linux 5.14+, per network namespace): when a listener of a SO_REUSEPORT group closes,
 * the connections waiting in its accept queue move to another listener of the group instead of being reset. The
 * old pod closes its listeners at SIGTERM while the new one listens beside it; with this set, not one connection
 * that the kernel had already accepted for the old pod is lost. Not writable (read-only /proc/sys, older kernel):
 * a warning, and the window is the instant between the old pod's last accept and its close.
 */
import { setSysctl, type KernelParams, type SysctlOutcome } from '../conntrack/sysctls.ts';
import type { Logger } from '../telemetry/logger-types.ts';

export const TCP_MIGRATE_REQ = 'net/ipv4/tcp_migrate_req';

export const enableListenerMigration = async (params: KernelParams, logger: Logger): Promise<SysctlOutcome['result']> =>
  (await setSysctl(params, { name: TCP_MIGRATE_REQ, value: 1 }, logger, {
    why: 'a closing listener hands its queued connections to the next one',
    atStake: 'during a rollout, connections queued on the old pod\'s listener at its exit are reset',
  })).result;
