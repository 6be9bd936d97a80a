/**
 * Host setup the sandbox leaves out but the e2e scenarios need (see prepareHosts).
 */
import type { Sandbox } from '../../../lib/sandbox/sandbox.ts';
import { TOOLS } from '../../../lib/sandbox/exec.ts';
import { networkOf } from '../../../lib/sandbox/spec.ts';
import { OUTSIDE_SECOND_IP } from './fixture.ts';

/** The Service CIDRs of the fixture (examples/README.md). */
export const SERVICE_CIDRS = { 4: '10.96.0.0/16', 6: 'fd00:96::/108' } as const;

const mustRun = async (sandbox: Sandbox, ns: string, argv: readonly string[], input?: string): Promise<void> => {
  const r = await sandbox.exec(ns, argv, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`${argv.join(' ')} in ${ns} failed: ${r.stderr.trim()}`);
};

/**
 * What the sandbox leaves out but the scenarios need:
 * - a default route on every node via the outside host (the LAN's router), as real nodes have: without it a
 *   ClusterIP is unroutable, packets never reach the forward hook where the no-endpoint reject or the iTP-Local
 *   drop sits, and the node answers "net unreachable" itself;
 * - on that router, a reject of the Service CIDRs with "net unreachable" (nft, so it is not subject to the
 *   kernel's 5-then-1/s limit on ICMP errors for unroutable packets, which is global and cannot be changed inside a
 *   namespace) and routes back to the pod CIDRs for the ICMP errors: a ClusterIP that switchyard does not handle
 *   (no rules, deleted Service) then fails at once, so a timeout really means a drop rule, and a deletion's
 *   latency is measurable;
 * - ICMP error rate limits off on nodes and the outside host (reject rules answer every packet);
 * - a second address on the outside host, for loadBalancerSourceRanges.
 */
export const prepareHosts = async (sandbox: Sandbox, log: (line: string) => void): Promise<void> => {
  for (const nodeName of ['node-a', 'node-b']) {
    await mustRun(sandbox, nodeName, [TOOLS.ip, 'route', 'add', 'default', 'via', sandbox.lanIP('outside', 4)]);
    await mustRun(sandbox, nodeName, [TOOLS.ip, '-6', 'route', 'add', 'default', 'via', sandbox.lanIP('outside', 6)]);
  }
  for (const ns of ['node-a', 'node-b', 'outside']) {
    const r = await sandbox.exec(ns, [TOOLS.sysctl, '-w', 'net.ipv4.icmp_ratelimit=0', 'net.ipv6.icmp.ratelimit=0']);
    if (r.code !== 0) log(`warning: ICMP rate limit stays on in ${ns}: ${r.stderr.trim()}`);
  }
  for (const nodeName of ['node-a', 'node-b']) {
    const node = sandbox.node(nodeName);
    await mustRun(sandbox, 'outside', [TOOLS.ip, 'route', 'add', networkOf(node.podGatewayIPv4), 'via', sandbox.lanIP(nodeName, 4)]);
    if (node.podGatewayIPv6 && node.lanIPv6) {
      await mustRun(sandbox, 'outside', [TOOLS.ip, '-6', 'route', 'add', networkOf(node.podGatewayIPv6), 'via', sandbox.lanIP(nodeName, 6)]);
    }
  }
  await mustRun(sandbox, 'outside', [TOOLS.nft, '-f', '-'], `
table inet e2e-router {
  chain prerouting {
    type filter hook prerouting priority 0; policy accept;
    ip daddr ${SERVICE_CIDRS[4]} reject with icmp type net-unreachable
    ip6 daddr ${SERVICE_CIDRS[6]} reject with icmpv6 type no-route
  }
}`);
  await mustRun(sandbox, 'outside', [TOOLS.ip, 'addr', 'add', `${OUTSIDE_SECOND_IP}/24`, 'dev', 'eth0']);
};
