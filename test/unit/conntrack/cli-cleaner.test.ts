import test from 'ava';
import { ConntrackCleaner } from '../../../lib/conntrack/cleaner.ts';
import { ConntrackCli, FakeConntrack } from '../../../lib/conntrack/conntrack.ts';
import { FakeCommandRunner } from '../../../lib/exec/command.ts';
import { recordingLogger } from '../../../lib/telemetry/logger-types.ts';
import { desired, ep, plan } from '../dataplane/fixtures.ts';

const dns = (ip: string) => plan({ name: 'dns', protocol: 'UDP', clusterIP: '10.96.0.53', port: 53, endpoints: [ep(ip, 53)] });

test('ConntrackCli: "0 flow entries" (exit 1) is success, a count is parsed, other failures reject', async (t) => {
  const runner = new FakeCommandRunner();
  const cli = new ConntrackCli({ commands: runner });
  const deletion = { kind: 'address', family: 4, ip: '10.96.0.53', port: 53 } as const;
  runner.respond = () => ({ code: 1, stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n' });
  t.is(await cli.delete(deletion), 0);
  t.deepEqual(runner.calls[0]?.argv, ['/usr/sbin/conntrack', '-D', '-f', 'ipv4', '-p', 'udp', '--orig-dst', '10.96.0.53', '--orig-port-dst', '53']);
  runner.respond = () => ({ code: 0, stdout: 'udp 17 ...\n', stderr: 'conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted.\n' });
  t.is(await cli.delete(deletion), 3);
  runner.respond = () => ({ code: 1, stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): Operation failed: invalid parameters\n' });
  const error = await t.throwsAsync(cli.delete(deletion));
  t.regex(error?.message ?? '', /invalid parameters/);
});

test('ConntrackCleaner: first sync only records; later syncs delete what became stale', async (t) => {
  const fake = new FakeConntrack();
  const cleaner = new ConntrackCleaner({ deleter: fake, logger: recordingLogger() });
  t.is((await cleaner.afterSync(desired([dns('10.244.1.5')]))).commands, 0);
  const report = await cleaner.afterSync(desired([dns('10.244.1.6')]));
  t.is(report.commands, 1);
  t.deepEqual(fake.deleted, [{ kind: 'address-endpoint', family: 4, ip: '10.96.0.53', port: 53, endpoint: '10.244.1.5' }]);
});

test('ConntrackCleaner: a failing delete is logged and counted, the others still run', async (t) => {
  const fake = new FakeConntrack();
  fake.fail = (d) => d.kind === 'address-endpoint' && d.endpoint === '10.244.1.5';
  const logger = recordingLogger();
  const results: boolean[] = [];
  const cleaner = new ConntrackCleaner({ deleter: fake, logger, onResult: (ok) => results.push(ok) });
  const two = (a: string, b: string) => plan({ name: 'dns', protocol: 'UDP', clusterIP: '10.96.0.53', port: 53, endpoints: [ep(a, 53), ep(b, 53)] });
  await cleaner.afterSync(desired([two('10.244.1.5', '10.244.1.7')]));
  const report = await cleaner.afterSync(desired([dns('10.244.1.9')]));
  t.is(report.failed, 1);
  t.is(fake.deleted.length, 1);
  t.deepEqual(results.sort(), [false, true]);
  t.true(logger.lines.some((l) => l.level === 'warn' && /conntrack cleanup failed/.test(l.msg ?? '')));
});
