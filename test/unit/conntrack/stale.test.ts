import test from 'ava';
import { staleConntrackEntries, type ConntrackDeletion } from '../../../lib/conntrack/stale.ts';
import { conntrackArgs } from '../../../lib/conntrack/conntrack.ts';
import type { DesiredState } from '../../../lib/plan/types.ts';
import { desired, ep, plan } from '../dataplane/fixtures.ts';

const dns = (endpoints: ReturnType<typeof ep>[], extra = {}) =>
  plan({ name: 'dns', protocol: 'UDP', clusterIP: '10.96.0.53', port: 53, endpoints, extra });
const dns6 = (endpoints: ReturnType<typeof ep>[]) => plan({ name: 'dns', protocol: 'UDP', clusterIP: 'fd00:96::53', port: 53, endpoints });
const web = (endpoints: ReturnType<typeof ep>[]) => plan({ name: 'web', clusterIP: '10.96.0.10', port: 80, endpoints });

interface Case {
  readonly title: string;
  readonly previous: DesiredState | undefined;
  readonly next: DesiredState;
  readonly expected: readonly ConntrackDeletion[];
}

const cases: Case[] = [
  {
    title: 'nothing changed: nothing to delete',
    previous: desired([dns([ep('10.244.1.5', 53)])]),
    next: desired([dns([ep('10.244.1.5', 53)])]),
    expected: [],
  },
  {
    title: 'endpoint replaced: flows DNATed to the old one go',
    previous: desired([dns([ep('10.244.1.5', 53)])]),
    next: desired([dns([ep('10.244.1.6', 53)])]),
    expected: [{ kind: 'address-endpoint', family: 4, ip: '10.96.0.53', port: 53, endpoint: '10.244.1.5' }],
  },
  {
    title: 'removed endpoint of a NodePort with externalIPs and LB IPs: every frontend and the node port',
    previous: desired([dns([ep('10.244.1.5', 53), ep('10.244.2.5', 53)], { nodePort: 30053, externalIPs: ['198.51.100.2'], loadBalancerIPs: ['198.51.100.1'] })]),
    next: desired([dns([ep('10.244.2.5', 53)], { nodePort: 30053, externalIPs: ['198.51.100.2'], loadBalancerIPs: ['198.51.100.1'] })]),
    expected: [
      { kind: 'address-endpoint', family: 4, ip: '10.96.0.53', port: 53, endpoint: '10.244.1.5' },
      { kind: 'address-endpoint', family: 4, ip: '198.51.100.1', port: 53, endpoint: '10.244.1.5' },
      { kind: 'address-endpoint', family: 4, ip: '198.51.100.2', port: 53, endpoint: '10.244.1.5' },
      { kind: 'node-port-endpoint', family: 4, port: 30053, endpoint: '10.244.1.5' },
    ],
  },
  {
    title: 'service deleted: its flows to the old endpoints go',
    previous: desired([dns([ep('10.244.1.5', 53)])]),
    next: desired([]),
    expected: [{ kind: 'address-endpoint', family: 4, ip: '10.96.0.53', port: 53, endpoint: '10.244.1.5' }],
  },
  {
    title: 'no endpoints -> some: every flow to the service addresses and node port goes',
    previous: desired([dns([], { nodePort: 30053 })]),
    next: desired([dns([ep('10.244.1.5', 53)], { nodePort: 30053 })]),
    expected: [
      { kind: 'address', family: 4, ip: '10.96.0.53', port: 53 },
      { kind: 'node-port', family: 4, port: 30053 },
    ],
  },
  {
    title: 'a new service that comes with endpoints counts as newly active',
    previous: desired([]),
    next: desired([dns([ep('10.244.1.5', 53)])]),
    expected: [{ kind: 'address', family: 4, ip: '10.96.0.53', port: 53 }],
  },
  {
    title: 'TCP services are left alone',
    previous: desired([web([ep('10.244.1.5', 80)])]),
    next: desired([web([ep('10.244.1.6', 80)])]),
    expected: [],
  },
  {
    title: 'IPv6 plans produce ipv6 deletions',
    previous: desired([dns6([ep('fd00:244::5', 53)])]),
    next: desired([dns6([ep('fd00:244::6', 53)])]),
    expected: [{ kind: 'address-endpoint', family: 6, ip: 'fd00:96::53', port: 53, endpoint: 'fd00:244::5' }],
  },
  {
    title: 'endpoint port changed: the old ip:port is stale',
    previous: desired([dns([ep('10.244.1.5', 53)])]),
    next: desired([dns([ep('10.244.1.5', 5353)])]),
    expected: [{ kind: 'address-endpoint', family: 4, ip: '10.96.0.53', port: 53, endpoint: '10.244.1.5' }],
  },
  {
    title: 'all endpoints gone: stale flows deleted, nothing newly active',
    previous: desired([dns([ep('10.244.1.5', 53)])]),
    next: desired([dns([])]),
    expected: [{ kind: 'address-endpoint', family: 4, ip: '10.96.0.53', port: 53, endpoint: '10.244.1.5' }],
  },
];

for (const c of cases) {
  test(`staleConntrackEntries: ${c.title}`, (t) => {
    t.deepEqual(
      new Set(staleConntrackEntries(c.previous, c.next).map((d) => JSON.stringify(d))),
      new Set(c.expected.map((d) => JSON.stringify(d))),
    );
  });
}

test('staleConntrackEntries: no duplicates when an endpoint is listed in both cluster and local sets', (t) => {
  const local = ep('10.244.1.5', 53, true);
  const out = staleConntrackEntries(desired([dns([local])]), desired([dns([])]));
  t.is(out.length, 1);
});

const argCases: [ConntrackDeletion, string][] = [
  [{ kind: 'address', family: 4, ip: '10.96.0.53', port: 53 }, '-D -f ipv4 -p udp --orig-dst 10.96.0.53 --orig-port-dst 53'],
  [
    { kind: 'address-endpoint', family: 6, ip: 'fd00::53', port: 53, endpoint: 'fd00:244::5' },
    '-D -f ipv6 -p udp --orig-dst fd00::53 --orig-port-dst 53 --dst-nat fd00:244::5',
  ],
  [{ kind: 'node-port', family: 4, port: 30053 }, '-D -f ipv4 -p udp --orig-port-dst 30053'],
  [{ kind: 'node-port-endpoint', family: 4, port: 30053, endpoint: '10.244.1.5' }, '-D -f ipv4 -p udp --orig-port-dst 30053 --dst-nat 10.244.1.5'],
];
for (const [deletion, expected] of argCases) {
  test(`conntrackArgs: ${deletion.kind} ipv${deletion.family}`, (t) => {
    t.is(conntrackArgs(deletion).join(' '), expected);
  });
}
