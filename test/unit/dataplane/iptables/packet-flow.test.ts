import test from 'ava';
import { buildHairpin, buildTables } from '../../../../lib/dataplane/iptables/rules.ts';
import { ipPortIpLookup, traceIptables } from '../../../../lib/dataplane/iptables/trace.ts';
import { IptablesDataplane } from '../../../../lib/dataplane/iptables/dataplane.ts';
import { FakeIptables } from '../../../../lib/dataplane/iptables/fake.ts';
import { hairpinSet } from '../../../../lib/dataplane/iptables/names.ts';
import type { DesiredState } from '../../../../lib/plan/types.ts';
import { runPacketFlowSuite } from '../packet-flow-suite.ts';

const builtSets = (state: DesiredState, family: 4 | 6) => {
  const members = new Set(buildHairpin(state, family));
  return ipPortIpLookup((name) => (name === hairpinSet(family) ? members : undefined));
};

/** kube-proxy's iptables mode is the one with NodePorts on 127.0.0.1. */
const IPTABLES_MODE = { localhostNodePorts: true };

// The typed rules (and hairpin set members) as built…
runPacketFlowSuite(
  test,
  'iptables (typed rules)',
  (state, ctx) => traceIptables({ 4: buildTables(state, 4), 6: buildTables(state, 6) }, ctx, { 4: builtSets(state, 4), 6: builtSets(state, 6) }),
  IPTABLES_MODE,
);

// …and what the fake kernel holds after a sync through the dataplane, parsed back from rule text, with the jump
// rules the dataplane installed in the built-in chains and the sets it filled.
runPacketFlowSuite(test, 'iptables (fake kernel)', async (state, ctx) => {
  const fake = new FakeIptables();
  await new IptablesDataplane({ executor: fake }).sync(state, { changed: undefined, forceFull: false });
  return traceIptables({ 4: fake.typedTables(4), 6: fake.typedTables(6) }, ctx, { 4: fake.setLookup(), 6: fake.setLookup() });
}, IPTABLES_MODE);
