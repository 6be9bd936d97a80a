import test from 'ava';
import { buildRuleset } from '../../../../lib/dataplane/nftables/ruleset.ts';
import { traceNftables } from '../../../../lib/dataplane/nftables/trace.ts';
import { runPacketFlowSuite } from '../packet-flow-suite.ts';

runPacketFlowSuite(test, 'nftables', (state, ctx) => traceNftables(buildRuleset(state), ctx));
