import test, { type ExecutionContext, type TestFn } from 'ava';
import { buildIpvs } from '../../../../lib/dataplane/ipvs/build.ts';
import { traceIpvs } from '../../../../lib/dataplane/ipvs/trace.ts';
import { IPVS_KNOWN_DIFFERENCES, runPacketFlowSuite } from '../packet-flow-suite.ts';

/**
 * IPVS has one real-server list per virtual server, whatever the source: kube-proxy's IPVS mode cannot send pods
 * or the node itself to all endpoints of an eTP Local service's external address (nftables and iptables modes
 * can). These suite rows (IPVS_KNOWN_DIFFERENCES) are expected to fail here; `test.failing` reports it if they ever start passing.
 */
const KNOWN_IPVS_DIFFERENCES = new Set(IPVS_KNOWN_DIFFERENCES.map((title) => `ipvs packet flow: ${title}`));
const ipvsTest = ((title: string, fn: (t: ExecutionContext) => Promise<void>) =>
  KNOWN_IPVS_DIFFERENCES.has(title) ? test.failing(title, fn) : test(title, fn)) as unknown as TestFn;

runPacketFlowSuite(ipvsTest, 'ipvs', (state, ctx) => {
  const opts = { scheduler: 'rr', localAddresses: ctx.localAddresses };
  return traceIpvs({ 4: buildIpvs(state, 4, opts), 6: buildIpvs(state, 6, opts) }, ctx);
});
