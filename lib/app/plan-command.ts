/**
 * `switchyard plan`: read the objects once (manifests directory or API server), run the same model and planner as
 * the daemon, and print what the dataplane would program.
 */
import type { Config } from '../config/types.ts';
import { formatPlanJson, formatPlanTable } from '../plan/format.ts';
import { planDesiredState } from '../plan/plan.ts';
import type { DesiredState } from '../plan/types.ts';
import { formatProblem, loadManifestsOnce } from '../source/manifests.ts';
import { PROXY_KINDS, type SourceEvent } from '../source/types.ts';
import { ServiceState } from '../state/service-state.ts';
import type { Logger } from '../telemetry/logger-types.ts';
import { collectUntilSynced } from './collect.ts';
import { planOptionsFromConfig } from './plan-options.ts';
import { sourceFromConfig } from './source-from-config.ts';

export interface PlanCommandIO {
  readonly write: (text: string) => void;
  /** One line per problem found in the input (invalid objects, broken documents). */
  readonly warn: (line: string) => void;
}

const readEvents = async (config: Config, nodeName: string, logger: Logger, io: PlanCommandIO): Promise<readonly SourceEvent[]> => {
  if (config.manifestsDir === undefined) {
    // The plan is the dataplane's: Ingresses and Secrets play no part in it.
    return collectUntilSynced(sourceFromConfig(config, nodeName, logger, {}, PROXY_KINDS), PROXY_KINDS, 30_000);
  }
  const loaded = await loadManifestsOnce(config.manifestsDir);
  for (const problem of loaded.problems) io.warn(`skipped ${formatProblem(problem)}`);
  for (const warning of loaded.warnings) io.warn(warning);
  return loaded.events;
};

export const desiredStateFromEvents = (
  events: readonly SourceEvent[],
  config: Config,
  nodeName: string,
  warn: (line: string) => void,
): DesiredState => {
  const state = new ServiceState({ nodeName });
  for (const event of events) {
    const rejection = state.apply(event);
    if (rejection) warn(`skipped invalid ${rejection.kind} ${rejection.key}: ${rejection.reason}`);
  }
  return planDesiredState(state.commit().snapshot, planOptionsFromConfig(config, nodeName));
};

export const runPlanCommand = async (
  config: Config,
  nodeName: string,
  output: 'table' | 'json',
  logger: Logger,
  io: PlanCommandIO,
): Promise<void> => {
  const events = await readEvents(config, nodeName, logger, io);
  const desired = desiredStateFromEvents(events, config, nodeName, io.warn);
  io.write(output === 'json' ? formatPlanJson(desired) : formatPlanTable(desired));
};
