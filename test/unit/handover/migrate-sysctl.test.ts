/** net.ipv4.tcp_migrate_req: set when it can be, left alone when set, a warning when it cannot be written. */
import test from 'ava';
import { FakeKernelParams } from '../../../lib/conntrack/sysctls.ts';
import { enableListenerMigration } from '../../../lib/handover/migrate-sysctl.ts';
import { recordingLogger } from '../../../lib/telemetry/logger-types.ts';

const PATH = '/proc/sys/net/ipv4/tcp_migrate_req';

test('0 → 1, logged', async (t) => {
  const params = new FakeKernelParams();
  params.values.set(PATH, '0');
  const logger = recordingLogger();
  t.is(await enableListenerMigration(params, logger), 'written');
  t.deepEqual(params.writes, [{ path: PATH, value: '1' }]);
  t.is(logger.lines[0]?.level, 'info');
});

test('already 1: nothing written', async (t) => {
  const params = new FakeKernelParams();
  params.values.set(PATH, '1');
  t.is(await enableListenerMigration(params, recordingLogger()), 'unchanged');
  t.deepEqual(params.writes, []);
});

test('read-only /proc/sys or an older kernel without it: a warning that says what is at stake, never a throw', async (t) => {
  for (const setup of [(p: FakeKernelParams) => p.readOnly.add(PATH), () => undefined]) {
    const params = new FakeKernelParams();
    params.values.set(PATH, '0');
    setup(params);
    if (!params.readOnly.has(PATH)) params.values.delete(PATH);
    const logger = recordingLogger();
    t.is(await enableListenerMigration(params, logger), 'failed');
    t.is(logger.lines[0]?.level, 'warn');
    t.regex(logger.lines[0]?.msg ?? '', /queued on the old pod's listener/);
  }
});
