/**
 * The client-IP and traffic-policy scenarios again, with pod traffic told by its input interface instead of by
 * --cluster-cidr (kube-proxy's BridgeInterface mode on the sandbox's pod bridge cbr0; InterfaceNamePrefix on the
 * pods' `vp…` veths where the sandbox has to route pods without a bridge). nftables mode, real packets.
 */
import { scenarios } from './scenarios.ts';
import { registerE2eSuite } from './support/suite.ts';

/** Those whose outcome depends on telling pod traffic from other traffic. */
const ABOUT_LOCAL_TRAFFIC = new Set([1, 2, 3, 4, 9, 13, 14]);

registerE2eSuite('nftables', scenarios.filter((s) => ABOUT_LOCAL_TRAFFIC.has(s.id)), {
  label: 'nftables detect-local',
  extraArgs: (sandbox) =>
    sandbox.podNetwork === 'bridge'
      ? ['--detect-local-mode', 'BridgeInterface', '--pod-bridge-interface', 'cbr0']
      : ['--detect-local-mode', 'InterfaceNamePrefix', '--pod-interface-name-prefix', 'vp'],
});
