/** Hand-built DesiredState fixtures shared by the dataplane tests. */
import type { IPFamily, Protocol } from '../../../lib/model/types.ts';
import type { DesiredState, FamilySettings, PlannedEndpoint, ServicePlan } from '../../../lib/plan/types.ts';

export const NODE_IP = '192.168.1.10';
export const NODE_IP6 = 'fd00:1::10';
export const OTHER_LOCAL_IP = '192.168.1.11';
export const LOCAL_ADDRESSES = [NODE_IP, OTHER_LOCAL_IP, '127.0.0.1', NODE_IP6, '::1'];

export const ep = (ip: string, port: number, isLocal = false): PlannedEndpoint => ({ ip, port, isLocal });

export interface PlanInput {
  readonly namespace?: string;
  readonly name: string;
  readonly portName?: string;
  readonly family?: IPFamily;
  readonly protocol?: Protocol;
  readonly clusterIP: string;
  readonly port: number;
  readonly endpoints?: readonly PlannedEndpoint[];
  readonly extra?: Partial<ServicePlan>;
}

export const plan = (i: PlanInput): ServicePlan => {
  const family = i.family ?? (i.clusterIP.includes(':') ? 6 : 4);
  const namespace = i.namespace ?? 'default';
  const portName = i.portName ?? '';
  const key = `${namespace}/${i.name}:${portName}`;
  const endpoints = i.endpoints ?? [];
  return {
    id: `${family}/${key}`,
    servicePort: key,
    namespace,
    name: i.name,
    portName,
    family,
    protocol: i.protocol ?? 'TCP',
    clusterIP: i.clusterIP,
    port: i.port,
    nodePort: 0,
    externalIPs: [],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: [],
    affinityTimeoutSeconds: undefined,
    internalPolicyLocal: false,
    externalPolicyLocal: false,
    clusterEndpoints: endpoints,
    localEndpoints: endpoints.filter((e) => e.isLocal),
    internalVerdict: endpoints.length > 0 ? 'endpoints' : 'reject',
    externalVerdict: endpoints.length > 0 ? 'endpoints' : 'reject',
    healthCheckNodePort: 0,
    ...i.extra,
  };
};

export const settings4 = (s: Partial<FamilySettings> = {}): FamilySettings => ({
  clusterCIDRs: ['10.244.0.0/16'],
  nodePortAddresses: [NODE_IP],
  nodePortOnAllLocal: false,
  ...s,
});
export const settings6 = (s: Partial<FamilySettings> = {}): FamilySettings => ({
  clusterCIDRs: ['fd00:244::/64'],
  nodePortAddresses: [NODE_IP6],
  nodePortOnAllLocal: false,
  ...s,
});

export const desired = (
  services: readonly ServicePlan[],
  opts: { masqueradeAll?: boolean; v4?: Partial<FamilySettings>; v6?: Partial<FamilySettings> } = {},
): DesiredState => ({
  nodeName: 'node-a',
  masqueradeAll: opts.masqueradeAll ?? false,
  families: { 4: settings4(opts.v4), 6: settings6(opts.v6) },
  services: [...services].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
});

/** A small cluster exercising most features. */
export const richServices = (): ServicePlan[] => [
  plan({ name: 'web', clusterIP: '10.96.0.10', port: 80, endpoints: [ep('10.244.1.5', 8080, true), ep('10.244.2.7', 8080)], extra: { nodePort: 30080 } }),
  plan({ name: 'dns', portName: 'dns', protocol: 'UDP', clusterIP: '10.96.0.53', port: 53, endpoints: [ep('10.244.2.9', 53)] }),
  plan({ name: 'empty', clusterIP: '10.96.0.20', port: 80, extra: { nodePort: 30020 } }),
  plan({
    name: 'lb',
    clusterIP: '10.96.0.30',
    port: 443,
    endpoints: [ep('10.244.1.6', 8443, true), ep('10.244.2.8', 8443)],
    extra: { nodePort: 30443, loadBalancerIPs: ['198.51.100.1'], loadBalancerSourceRanges: ['203.0.113.0/24'], externalIPs: ['198.51.100.2'] },
  }),
  plan({
    name: 'local',
    clusterIP: '10.96.0.40',
    port: 80,
    endpoints: [ep('10.244.1.7', 80, true), ep('10.244.2.10', 80)],
    extra: { nodePort: 30040, externalPolicyLocal: true, externalIPs: ['198.51.100.4'] },
  }),
  plan({
    name: 'local-none',
    clusterIP: '10.96.0.41',
    port: 80,
    endpoints: [ep('10.244.2.11', 80)],
    extra: { nodePort: 30041, externalPolicyLocal: true, externalVerdict: 'drop' },
  }),
  plan({
    name: 'itp-local',
    clusterIP: '10.96.0.42',
    port: 80,
    endpoints: [ep('10.244.1.8', 80, true), ep('10.244.2.12', 80)],
    extra: { internalPolicyLocal: true },
  }),
  plan({ name: 'itp-drop', clusterIP: '10.96.0.43', port: 80, endpoints: [ep('10.244.2.13', 80)], extra: { internalPolicyLocal: true, internalVerdict: 'drop' } }),
  plan({
    name: 'sticky',
    clusterIP: '10.96.0.50',
    port: 80,
    endpoints: [ep('10.244.1.9', 80, true), ep('10.244.2.14', 80)],
    extra: { affinityTimeoutSeconds: 10800 },
  }),
  plan({ name: 'hairpin', clusterIP: '10.96.0.60', port: 80, endpoints: [ep('10.244.1.5', 9090, true)] }),
  plan({ name: 'sctp', protocol: 'SCTP', clusterIP: '10.96.0.70', port: 9000, endpoints: [ep('10.244.2.15', 9000)] }),
  plan({ name: 'web6', clusterIP: 'fd00:96::10', port: 80, endpoints: [ep('fd00:244::5', 8080, true), ep('fd00:244::7', 8080)], extra: { nodePort: 30080 } }),
  plan({ name: 'empty6', clusterIP: 'fd00:96::20', port: 80 }),
];

/** The states every dataplane renders to a golden dump (each mode may add its own beside them). */
export const goldenStates = (): Record<string, DesiredState> => ({
  empty: desired([]),
  rich: desired(richServices()),
  'all-local-masquerade-all': desired(
    [plan({ name: 'a', clusterIP: '10.96.5.5', port: 80, endpoints: [ep('10.244.1.1', 80, true)], extra: { nodePort: 31000 } })],
    { masqueradeAll: true, v4: { nodePortAddresses: [], nodePortOnAllLocal: true, clusterCIDRs: [] } },
  ),
});
