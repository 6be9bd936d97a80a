/** Chooses the object source a Config asks for: a manifests directory, or an API server. */
import { ingressEnabled, type Config } from '../config/types.ts';
import { KubeSource } from '../source/kube.ts';
import { ManifestsSource, type ManifestProblem } from '../source/manifests.ts';
import { PROXY_KINDS, type ResourceKind, type Source } from '../source/types.ts';
import type { Logger } from '../telemetry/logger-types.ts';

export interface SourceHooks {
  readonly onInvalidDocument?: (problem: ManifestProblem) => void;
  readonly onRestart?: (kind: ResourceKind, reason: string) => void;
}

/**
 * The kinds watched on an API server: kube-proxy's own; Ingresses and IngressClasses only with an ingress listener;
 * TLS Secrets only with an HTTPS one. With the ingress off, switchyard needs exactly kube-proxy's permissions and
 * reads no Secret.
 */
export const watchedKinds = (config: Config): readonly ResourceKind[] => [
  ...PROXY_KINDS,
  ...(ingressEnabled(config) ? (['Ingress', 'IngressClass'] as const) : []),
  ...(config.ingressHttpsAddress ? (['Secret'] as const) : []),
];

/**
 * `nodeName`: the node this proxy runs for; from an API server only its Node object is watched. `kinds`: what to
 * watch there (a manifests directory yields every kind it holds).
 */
export const sourceFromConfig = (
  config: Config,
  nodeName: string,
  logger: Logger,
  hooks: SourceHooks = {},
  kinds: readonly ResourceKind[] = watchedKinds(config),
): Source =>
  config.manifestsDir !== undefined
    ? new ManifestsSource({
        dir: config.manifestsDir,
        logger,
        ...(hooks.onInvalidDocument ? { onInvalidDocument: hooks.onInvalidDocument } : {}),
      })
    : new KubeSource({
        ...(config.kubeconfig !== undefined ? { kubeconfigPath: config.kubeconfig } : {}),
        ...(config.master !== undefined ? { masterUrl: config.master } : {}),
        nodeName,
        kinds,
        logger,
        ...(hooks.onRestart ? { onRestart: hooks.onRestart } : {}),
      });
