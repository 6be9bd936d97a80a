/**
 * DesiredState for people (`switchyard plan`, debug logs): one line per frontend, aligned columns; and a stable
 * JSON form (keys sorted) for tools and golden files.
 */
import { joinHostPort } from '../model/ip.ts';
import type { IPFamily } from '../model/types.ts';
import type { DesiredState, PlannedEndpoint, ServicePlan, TrafficVerdict } from './types.ts';

const HEADER = ['SERVICE', 'FRONTEND', 'TYPE', 'PROTO', 'POLICY', 'BACKENDS'] as const;
type Row = readonly [string, string, string, string, string, string];

const describeBackends = (verdict: TrafficVerdict, endpoints: readonly PlannedEndpoint[]): string => {
  if (verdict === 'reject') return 'REJECT (no endpoints)';
  if (verdict === 'drop') return 'DROP (no local endpoints)';
  return endpoints.map((ep) => `${joinHostPort(ep.ip, ep.port)}${ep.isLocal ? ' (local)' : ''}`).join(', ');
};

const policyText = (parts: readonly (string | false | undefined)[]): string =>
  parts.filter((p): p is string => Boolean(p)).join(' ') || '-';

const nodePortHosts = (state: DesiredState, family: IPFamily): string[] => {
  const settings = state.families[family];
  if (settings.nodePortOnAllLocal) return [family === 6 ? '[::]' : '*'];
  if (settings.nodePortAddresses.length === 0) return [];
  return settings.nodePortAddresses.map((ip) => (family === 6 ? `[${ip}]` : ip));
};

const rowsFor = (state: DesiredState, plan: ServicePlan): Row[] => {
  const service = plan.servicePort;
  const proto = plan.protocol;
  const affinity = plan.affinityTimeoutSeconds !== undefined && `affinity=ClientIP/${plan.affinityTimeoutSeconds}s`;
  const internalBackends = describeBackends(
    plan.internalVerdict,
    plan.internalPolicyLocal ? plan.localEndpoints : plan.clusterEndpoints,
  );
  const externalBackends = describeBackends(
    plan.externalVerdict,
    plan.externalPolicyLocal ? plan.localEndpoints : plan.clusterEndpoints,
  );
  const internalPolicy = policyText([plan.internalPolicyLocal && 'internal=Local', affinity]);
  const externalPolicy = policyText([
    plan.externalPolicyLocal && 'external=Local',
    affinity,
    plan.healthCheckNodePort !== 0 && `healthCheck=${plan.healthCheckNodePort}`,
  ]);

  const rows: Row[] = [
    [service, joinHostPort(plan.clusterIP, plan.port), 'ClusterIP', proto, internalPolicy, internalBackends],
  ];
  if (plan.nodePort !== 0) {
    const hosts = nodePortHosts(state, plan.family);
    const frontend = hosts.length > 0 ? hosts.map((h) => `${h}:${plan.nodePort}`).join(',') : `(no address):${plan.nodePort}`;
    rows.push([service, frontend, 'NodePort', proto, externalPolicy, externalBackends]);
  }
  const sources =
    plan.loadBalancerSourceRanges.length > 0 && `sources=${plan.loadBalancerSourceRanges.join(',')}`;
  for (const ip of plan.loadBalancerIPs) {
    rows.push([service, joinHostPort(ip, plan.port), 'LoadBalancer', proto, policyText([externalPolicy === '-' ? undefined : externalPolicy, sources]), externalBackends]);
  }
  for (const ip of plan.externalIPs) {
    rows.push([service, joinHostPort(ip, plan.port), 'ExternalIP', proto, externalPolicy, externalBackends]);
  }
  return rows;
};

/** A table with one line per frontend. Ends with a newline. */
export const formatPlanTable = (state: DesiredState): string => {
  const rows: Row[] = [[...HEADER], ...state.services.flatMap((plan) => rowsFor(state, plan))];
  if (rows.length === 1) return `no services to proxy on node ${state.nodeName}\n`;
  const widths = HEADER.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)));
  const lines = rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n`;
};

const sortKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const source = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(source)
        .sort()
        .filter((key) => source[key] !== undefined)
        .map((key) => [key, sortKeys(source[key])]),
    );
  }
  return value;
};

/** Pretty JSON with keys sorted at every level: the same state always prints the same bytes. */
export const formatPlanJson = (state: DesiredState): string => `${JSON.stringify(sortKeys(state), null, 2)}\n`;
