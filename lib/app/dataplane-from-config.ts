/** Chooses the kernel dataplane a Config asks for. */
import type { Config } from '../config/types.ts';
import { NftablesDataplane } from '../dataplane/nftables/dataplane.ts';
import { ExecNftRunner } from '../dataplane/nftables/nft.ts';
import type { Dataplane } from '../dataplane/types.ts';
import { SwitchyardError } from '../errors.ts';
import { ProcessRunner } from '../exec/command.ts';

export const dataplaneFromConfig = (config: Config): Dataplane | undefined => {
  switch (config.proxyMode) {
    case 'nftables':
      return new NftablesDataplane({ runner: new ExecNftRunner({ commands: new ProcessRunner() }) });
    case 'none':
      return undefined;
    case 'iptables':
    case 'ipvs':
      throw new SwitchyardError(
        'ERR_DATAPLANE_UNSUPPORTED',
        `--proxy-mode ${config.proxyMode} is not implemented yet; use nftables (the default) or none`,
      );
  }
};

/** Every dataplane that can leave rules behind, for --cleanup (whatever the configured mode). */
export const allDataplanes = (): Dataplane[] => [
  new NftablesDataplane({ runner: new ExecNftRunner({ commands: new ProcessRunner() }) }),
];
