import test from 'ava';
import { buildTables } from '../../../../lib/dataplane/iptables/rules.ts';
import { traceIptables } from '../../../../lib/dataplane/iptables/trace.ts';
import { IptablesDataplane } from '../../../../lib/dataplane/iptables/dataplane.ts';
import { FakeIptables } from '../../../../lib/dataplane/iptables/fake.ts';
import { runPacketFlowSuite } from '../packet-flow-suite.ts';

// The typed rules as built…
runPacketFlowSuite(test, 'iptables (typed rules)', (state, ctx) => traceIptables({ 4: buildTables(state, 4), 6: buildTables(state, 6) }, ctx));

// …and what the fake kernel holds after a sync through the dataplane, parsed back from rule text, with the jump
// rules the dataplane installed in the built-in chains.
runPacketFlowSuite(test, 'iptables (fake kernel)', async (state, ctx) => {
  const fake = new FakeIptables();
  await new IptablesDataplane({ executor: fake }).sync(state, { changed: undefined, forceFull: false });
  return traceIptables({ 4: fake.typedTables(4), 6: fake.typedTables(6) }, ctx);
});
