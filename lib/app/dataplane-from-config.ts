/** Chooses the kernel dataplane a Config asks for, and what other modes' leftovers it removes once it runs. */
import { networkInterfaces } from 'node:os';
import type { Config } from '../config/types.ts';
import { ExclusiveDataplane, type Leftovers } from '../dataplane/exclusive.ts';
import { IptablesDataplane } from '../dataplane/iptables/dataplane.ts';
import { DetectingIptables, ExecIptables } from '../dataplane/iptables/exec.ts';
import { IpvsDataplane } from '../dataplane/ipvs/dataplane.ts';
import { ExecIpvsKernel } from '../dataplane/ipvs/kernel.ts';
import { DUMMY_INTERFACE } from '../dataplane/ipvs/model.ts';
import { NftablesDataplane } from '../dataplane/nftables/dataplane.ts';
import { ExecNftRunner } from '../dataplane/nftables/nft.ts';
import type { Dataplane } from '../dataplane/types.ts';
import { ProcessRunner } from '../exec/command.ts';
import type { Logger } from '../telemetry/logger-types.ts';

const commands = new ProcessRunner();

/** Both iptables backends: cleanup must clear whichever one holds our chains. */
const everyIptablesBackend = (): ExecIptables[] =>
  (['nft', 'legacy'] as const).map((backend) => new ExecIptables({ commands, backend }));

const nftables = (): NftablesDataplane => new NftablesDataplane({ runner: new ExecNftRunner({ commands }) });

const iptables = (): IptablesDataplane =>
  new IptablesDataplane({ executor: new DetectingIptables({ commands }), cleanupExecutors: everyIptablesBackend() });

/**
 * This node's addresses, read at each sync (interfaces come and go), for IPVS NodePorts on "every local address":
 * not the service addresses on IPVS's own dummy interface, not IPv6 link-local ones.
 */
const interfaceAddresses = async (): Promise<string[]> =>
  Object.entries(networkInterfaces())
    .filter(([name]) => name !== DUMMY_INTERFACE)
    .flatMap(([, addresses]) => (addresses ?? []).filter((a) => !(a.family === 'IPv6' && a.scopeid)).map((a) => a.address));

const seconds = (ms: number): number => Math.floor(ms / 1000);

const ipvs = (config: Config, logger?: Logger): IpvsDataplane =>
  new IpvsDataplane({
    timeouts: { tcp: seconds(config.ipvs.tcpTimeoutMs), tcpFin: seconds(config.ipvs.tcpFinTimeoutMs), udp: seconds(config.ipvs.udpTimeoutMs) },
    ...(logger ? { onWarning: (message: string) => logger.warn({}, message) } : {}),
    kernel: new ExecIpvsKernel({ commands }),
    iptables: new DetectingIptables({ commands }),
    cleanupExecutors: everyIptablesBackend(),
    scheduler: config.ipvs.scheduler,
    localAddresses: interfaceAddresses,
  });

const leftovers = (mode: string, remove: () => Promise<void>): Leftovers => ({ mode, remove });

/** Every dataplane that can leave rules behind, for --cleanup (whatever the configured mode). */
export const allDataplanes = (config: Config): Dataplane[] => [nftables(), iptables(), ipvs(config)];

export const dataplaneFromConfig = (config: Config, logger: Logger): Dataplane | undefined => {
  switch (config.proxyMode) {
    case 'none':
      return undefined;
    case 'nftables': {
      const others = [iptables(), ipvs(config)];
      return new ExclusiveDataplane(nftables(), others.map((o) => leftovers(o.mode, () => o.cleanup())), logger);
    }
    // iptables and IPVS modes share the SWITCHYARD- chains, and each one's full sync deletes the chains it does not
    // render: from each other they only remove what lives outside iptables.
    case 'iptables': {
      const nft = nftables();
      const ipvsMode = ipvs(config);
      return new ExclusiveDataplane(
        iptables(),
        [leftovers('nftables', () => nft.cleanup()), leftovers('ipvs', () => ipvsMode.cleanupKernelObjects())],
        logger,
      );
    }
    case 'ipvs': {
      const nft = nftables();
      const iptablesMode = iptables();
      return new ExclusiveDataplane(
        ipvs(config, logger),
        [leftovers('nftables', () => nft.cleanup()), leftovers('iptables', () => iptablesMode.cleanupKernelObjects())],
        logger,
      );
    }
  }
};
