/** The ingress presence name: shared exactly by switchyards that serve the same ingress addresses. */
import test from 'ava';
import { ingressPresenceName } from '../../../lib/app/ingress-from-config.ts';

const at = (http: string | undefined, https: string | undefined) => ({
  ingressHttpAddress: http === undefined ? undefined : { host: http.split(':')[0]!, port: Number(http.split(':')[1]) },
  ingressHttpsAddress: https === undefined ? undefined : { host: https.split(':')[0]!, port: Number(https.split(':')[1]) },
});

test('same addresses → same name; any difference → another name; fits an abstract socket name', (t) => {
  const defaults = ingressPresenceName(at('0.0.0.0:80', '0.0.0.0:443'));
  t.is(defaults, 'switchyard/ingress http=0.0.0.0:80 https=0.0.0.0:443');
  t.is(ingressPresenceName(at('0.0.0.0:80', '0.0.0.0:443')), defaults);
  const others = [at('0.0.0.0:8080', '0.0.0.0:443'), at('0.0.0.0:80', undefined), at(undefined, '0.0.0.0:443'), at('10.0.0.1:80', '0.0.0.0:443')];
  const names = new Set([defaults, ...others.map(ingressPresenceName)]);
  t.is(names.size, 1 + others.length);
  t.true(Buffer.byteLength(ingressPresenceName(at('255.255.255.255:65535', '255.255.255.255:65535'))) < 107);
});
