/**
 * What the daemon watches on an API server follows what it serves: kube-proxy's kinds always, Ingresses and
 * IngressClasses with an ingress listener, TLS Secrets only with an HTTPS one — with the ingress off, switchyard
 * needs kube-proxy's permissions and no Secret.
 */
import test from 'ava';
import { watchedKinds } from '../../../lib/app/source-from-config.ts';
import { parseCommandLine } from '../../../lib/config/index.ts';

const kindsFor = async (flags: readonly string[]): Promise<readonly string[]> => {
  const parsed = await parseCommandLine(['--proxy-mode', 'nftables', ...flags], { readFile: () => Promise.reject(new Error('no files')) });
  if (parsed.command !== 'run') throw new Error(parsed.command);
  return watchedKinds(parsed.config);
};

const rows: readonly [string, readonly string[], readonly string[]][] = [
  ['defaults (HTTP :80 and HTTPS :443)', [], ['Service', 'EndpointSlice', 'Node', 'Ingress', 'IngressClass', 'Secret']],
  ['HTTP only', ['--ingress-https-address', ''], ['Service', 'EndpointSlice', 'Node', 'Ingress', 'IngressClass']],
  ['HTTPS only', ['--ingress-http-address', ''], ['Service', 'EndpointSlice', 'Node', 'Ingress', 'IngressClass', 'Secret']],
  ['ingress off', ['--ingress-http-address', '', '--ingress-https-address', ''], ['Service', 'EndpointSlice', 'Node']],
];

for (const [name, flags, kinds] of rows) {
  test(`watched kinds: ${name}`, async (t) => {
    t.deepEqual(await kindsFor(flags), kinds);
  });
}
