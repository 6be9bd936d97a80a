/**
 * Can this process build a sandbox? Returns undefined when it can, or a reason a person can act on.
 * The probe really creates a namespace and a veth pair (and removes them), because capabilities alone
 * do not prove that the kernel has netns and veth.
 */
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { TOOLS, run } from './exec.ts';

let cached: Promise<string | undefined> | undefined;

export const isNetnsSupported = (): Promise<string | undefined> => (cached ??= probe());

const probe = async (): Promise<string | undefined> => {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not running as root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)';
  if (!existsSync(TOOLS.ip)) return `${TOOLS.ip} not found (install iproute2)`;
  const name = `sy-probe-${randomBytes(3).toString('hex')}`;
  const add = await run([TOOLS.ip, 'netns', 'add', name]);
  if (add.code !== 0) return `\`ip netns add\` failed: ${add.stderr.trim()}`;
  try {
    const veth = await run([TOOLS.ip, '-n', name, 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1']);
    if (veth.code !== 0) return `cannot create a veth pair: ${veth.stderr.trim()}`;
    const bridge = await run([TOOLS.ip, '-n', name, 'link', 'add', 'probebr', 'type', 'bridge']);
    if (bridge.code !== 0) return `cannot create a bridge: ${bridge.stderr.trim()}`;
    return undefined;
  } finally {
    await run([TOOLS.ip, 'netns', 'del', name]);
  }
};
