import test from 'ava';
import { ExclusiveDataplane } from '../../../lib/dataplane/exclusive.ts';
import type { Dataplane, SyncResult } from '../../../lib/dataplane/types.ts';
import { SwitchyardError } from '../../../lib/errors.ts';
import type { DesiredState } from '../../../lib/plan/types.ts';
import { recordingLogger } from '../../../lib/telemetry/logger-types.ts';

const STATE: DesiredState = {
  nodeName: 'n',
  masqueradeAll: false,
  families: {
    4: { clusterCIDRs: [], nodePortAddresses: [], nodePortOnAllLocal: true },
    6: { clusterCIDRs: [], nodePortAddresses: [], nodePortOnAllLocal: true },
  },
  services: [],
};
const RESULT: SyncResult = { full: true, changedServices: 0, durationMs: 1, computeMs: 0, applyMs: 1, bytes: 10 };
const HINT = { changed: undefined, forceFull: false };

const scripted = (outcomes: ('ok' | 'fail')[], log: string[]): Dataplane => ({
  mode: 'iptables',
  sync: async () => {
    const next = outcomes.shift() ?? 'ok';
    log.push(`sync:${next}`);
    if (next === 'fail') throw new SwitchyardError('ERR_DATAPLANE_APPLY', 'refused');
    return RESULT;
  },
  cleanup: async () => void log.push('cleanup:self'),
});

test('other modes are removed once, after the first successful sync, never before', async (t) => {
  const log: string[] = [];
  const dp = new ExclusiveDataplane(
    scripted(['fail', 'ok', 'ok'], log),
    [
      { mode: 'nftables', remove: async () => void log.push('remove:nftables') },
      { mode: 'ipvs', remove: async () => void log.push('remove:ipvs') },
    ],
    recordingLogger(),
  );
  await t.throwsAsync(dp.sync(STATE, HINT), { message: 'refused' });
  t.deepEqual(log, ['sync:fail'], 'a failed first sync leaves the other modes serving');
  t.is(await dp.sync(STATE, HINT), RESULT);
  await dp.sync(STATE, HINT);
  t.deepEqual(log, ['sync:fail', 'sync:ok', 'remove:nftables', 'remove:ipvs', 'sync:ok']);
  t.is(dp.mode, 'iptables');
});

test('a failing removal is a warning; syncing goes on and cleanup() is only the active mode', async (t) => {
  const log: string[] = [];
  const logger = recordingLogger();
  const dp = new ExclusiveDataplane(
    scripted([], log),
    [{ mode: 'nftables', remove: async () => { throw new Error('nft missing'); } }],
    logger,
  );
  t.is(await dp.sync(STATE, HINT), RESULT);
  t.true(logger.lines.some((l) => l.level === 'warn' && /nftables leftovers: nft missing/.test(l.msg ?? '')));
  await dp.cleanup();
  t.deepEqual(log, ['sync:ok', 'cleanup:self']);
});
