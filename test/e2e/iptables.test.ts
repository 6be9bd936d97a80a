/** The e2e scenarios (scenarios.ts) against the real daemon in iptables mode, in one sandbox. */
import { scenarios } from './scenarios.ts';
import { registerE2eSuite } from './support/suite.ts';

registerE2eSuite('iptables', scenarios);
