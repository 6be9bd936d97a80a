/**
 * IngressStatusWriter drivers: the real one merge-patches the `status` subresource through client-node's
 * NetworkingV1Api (only `status.loadBalancer.ingress` is sent, so nothing else on the object is touched); the
 * fake keeps what was written, for tests.
 */
import { ApiException, NetworkingV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { SwitchyardError } from '../errors.ts';
import type { IngressStatusWriter, LoadBalancerIngress } from './status.ts';

export class KubeIngressStatusWriter implements IngressStatusWriter {
  readonly #api: NetworkingV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.#api = kubeConfig.makeApiClient(NetworkingV1Api);
  }

  async write(namespace: string, name: string, entries: readonly LoadBalancerIngress[]): Promise<string | undefined> {
    try {
      const updated = await this.#api.patchNamespacedIngressStatus(
        { namespace, name, body: { status: { loadBalancer: { ingress: entries } } }, fieldManager: 'switchyard' },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return updated.metadata?.resourceVersion;
    } catch (e) {
      const statusCode = e instanceof ApiException ? e.code : undefined;
      const error = new SwitchyardError(
        'ERR_INGRESS',
        `PATCH ingresses/${namespace}/${name}/status failed${statusCode ? ` (HTTP ${statusCode})` : ''}: ${
          e instanceof Error ? e.message.split('\n')[0] : String(e)
        }`,
        { cause: e },
      );
      throw Object.assign(error, { statusCode });
    }
  }
}

export interface WrittenStatus {
  readonly key: string;
  readonly entries: readonly LoadBalancerIngress[];
}

/** Records writes; `fail` makes the next writes reject (with an optional HTTP status code). */
export class FakeIngressStatusWriter implements IngressStatusWriter {
  readonly writes: WrittenStatus[] = [];
  #failures: Array<number | undefined> = [];
  #rv = 1000;

  fail(times = 1, statusCode?: number): void {
    for (let i = 0; i < times; i++) this.#failures.push(statusCode);
  }

  async write(namespace: string, name: string, entries: readonly LoadBalancerIngress[]): Promise<string | undefined> {
    if (this.#failures.length > 0) {
      const statusCode = this.#failures.shift();
      throw Object.assign(new Error(`injected failure${statusCode ? ` (HTTP ${statusCode})` : ''}`), { statusCode });
    }
    this.writes.push({ key: `${namespace}/${name}`, entries });
    return String(++this.#rv);
  }

  /** The last entries written for `key`. */
  last(key: string): readonly LoadBalancerIngress[] | undefined {
    return this.writes.findLast((w) => w.key === key)?.entries;
  }
}
