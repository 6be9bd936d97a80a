/** Chooses the object source a Config asks for: a manifests directory, or an API server. */
import type { Config } from '../config/types.ts';
import { KubeSource } from '../source/kube.ts';
import { ManifestsSource, type ManifestProblem } from '../source/manifests.ts';
import type { ResourceKind, Source } from '../source/types.ts';
import type { Logger } from '../telemetry/logger-types.ts';

export interface SourceHooks {
  readonly onInvalidDocument?: (problem: ManifestProblem) => void;
  readonly onRestart?: (kind: ResourceKind, reason: string) => void;
}

/** `nodeName`: the node this proxy runs for; from an API server only its Node object is watched. */
export const sourceFromConfig = (config: Config, nodeName: string, logger: Logger, hooks: SourceHooks = {}): Source =>
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
        logger,
        ...(hooks.onRestart ? { onRestart: hooks.onRestart } : {}),
      });
