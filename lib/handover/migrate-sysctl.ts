/**
 * net.ipv4.tcp_migrate_req (Linux 5.14+, per network namespace): when a listener of a SO_REUSEPORT group closes,
 * the connections waiting in its accept queue move to another listener of the group instead of being reset. The
 * old pod closes its listeners at SIGTERM while the new one listens beside it; with this set, not one connection
 * that the kernel had already accepted for the old pod is lost. Not writable (read-only /proc/sys, older kernel):
 * a warning, and the window is the instant between the old pod's last accept and its close.
 */
import { PROC_SYS, type KernelParams } from '../conntrack/sysctls.ts';
import { describeError } from '../errors.ts';
import type { Logger } from '../telemetry/logger-types.ts';

export const TCP_MIGRATE_REQ = 'net/ipv4/tcp_migrate_req';

/** Returns what happened: 'set', 'already' or 'unavailable'. */
export const enableListenerMigration = async (params: KernelParams, logger: Logger): Promise<'set' | 'already' | 'unavailable'> => {
  const path = `${PROC_SYS}/${TCP_MIGRATE_REQ}`;
  try {
    if ((await params.read(path)).trim() === '1') return 'already';
    await params.write(path, '1');
    logger.info({ sysctl: TCP_MIGRATE_REQ, value: 1 }, `set ${TCP_MIGRATE_REQ} to 1: a closing listener hands its queued connections to the next one`);
    return 'set';
  } catch (e) {
    logger.warn(
      { sysctl: TCP_MIGRATE_REQ, err: describeError(e) },
      `cannot set ${TCP_MIGRATE_REQ} to 1 (${describeError(e)}); during a rollout, connections queued on the old pod's listener at its exit are reset`,
    );
    return 'unavailable';
  }
};
