/**
 * ServiceState: SourceEvents in, immutable Snapshots out.
 *
 * Events are validated and converted as they arrive (an invalid object is rejected and the last valid version of
 * it stays in effect); changes accumulate per object as `{previous, current}` until commit(), which folds them
 * into a new Snapshot and reports which service ports changed — what a partial sync needs.
 */
import { endpointSliceFromObject, mergeSliceEndpoints, type SliceInfo } from '../model/endpoints.ts';
import { nodeInfoFromNode } from '../model/node.ts';
import { servicePortsFromService } from '../model/service.ts';
import type { Endpoint, NodeInfo, ServiceKey, ServicePort, ServicePortKey } from '../model/types.ts';
import type { ResourceKind, SourceEvent } from '../source/types.ts';
import { ChangeTracker } from './change-tracker.ts';
import { deepEqual } from './equal.ts';

export interface Snapshot {
  /** This node's Node object, if seen. */
  readonly node: NodeInfo | undefined;
  readonly services: ReadonlyMap<ServicePortKey, ServicePort>;
  /** Sorted, deduped. Only service ports that exist and have at least one endpoint have an entry. */
  readonly endpoints: ReadonlyMap<ServicePortKey, readonly Endpoint[]>;
}

export interface ObjectRejection {
  readonly kind: ResourceKind;
  readonly key: string;
  readonly reason: string;
}

export interface CommitResult {
  readonly snapshot: Snapshot;
  /** Service ports whose ServicePort or endpoints changed, including removed ones. */
  readonly changed: ReadonlySet<ServicePortKey>;
  /** This node's NodeInfo changed (zone, addresses, podCIDRs…): everything that depends on it needs a look. */
  readonly nodeChanged: boolean;
}

const NO_ENDPOINTS: readonly Endpoint[] = Object.freeze([]);

export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({
  node: undefined,
  services: new Map<ServicePortKey, ServicePort>(),
  endpoints: new Map<ServicePortKey, readonly Endpoint[]>(),
});

/** The endpoints of one service port (empty when it has none). */
export const endpointsFor = (snapshot: Snapshot, key: ServicePortKey): readonly Endpoint[] =>
  snapshot.endpoints.get(key) ?? NO_ENDPOINTS;

const serviceKeyOf = (ports: readonly ServicePort[] | undefined): ServiceKey | undefined => {
  const first = ports?.[0];
  return first ? `${first.namespace}/${first.name}` : undefined;
};

export class ServiceState {
  readonly #nodeName: string;
  /** Keyed by the event key; a skipped Service (headless, ExternalName…) is stored as absent. */
  readonly #services = new ChangeTracker<readonly ServicePort[]>();
  /** Keyed by the event key; an ignored slice (FQDN, no service-name label…) is stored as absent. */
  readonly #slices = new ChangeTracker<SliceInfo>();
  readonly #node = new ChangeTracker<NodeInfo>();
  /** Committed ports per Service identity (`namespace/name`). */
  readonly #portsByService = new Map<ServiceKey, readonly ServicePort[]>();
  /** Committed slices per Service identity, keyed by the slice's event key. */
  readonly #slicesByService = new Map<ServiceKey, Map<string, SliceInfo>>();
  readonly #synced = new Set<ResourceKind>();
  #snapshot: Snapshot = EMPTY_SNAPSHOT;

  constructor(options: { nodeName: string }) {
    this.#nodeName = options.nodeName;
  }

  get synced(): boolean {
    return this.#synced.has('Service') && this.#synced.has('EndpointSlice');
  }

  get snapshot(): Snapshot {
    return this.#snapshot;
  }

  hasPendingChanges(): boolean {
    return this.#services.hasPending() || this.#slices.hasPending() || this.#node.hasPending();
  }

  /** Take one event. Returns a rejection when the object is invalid (its last valid version stays in effect). */
  apply(event: SourceEvent): ObjectRejection | undefined {
    if (event.type === 'synced') {
      this.#synced.add(event.kind);
      return undefined;
    }
    const { kind, key } = event;
    switch (kind) {
      case 'Service': {
        if (event.type === 'delete') {
          this.#services.update(key, undefined);
          return undefined;
        }
        const result = servicePortsFromService(event.object);
        if (!result.ok) return { kind, key, reason: result.reason };
        this.#services.update(key, result.value.length > 0 ? result.value : undefined);
        return undefined;
      }
      case 'EndpointSlice': {
        if (event.type === 'delete') {
          this.#slices.update(key, undefined);
          return undefined;
        }
        const result = endpointSliceFromObject(event.object, this.#nodeName);
        if (!result.ok) return { kind, key, reason: result.reason };
        this.#slices.update(key, result.value);
        return undefined;
      }
      case 'Node': {
        const name = event.object?.metadata.name ?? key;
        if (name !== this.#nodeName) return undefined;
        if (event.type === 'delete') {
          this.#node.update(this.#nodeName, undefined);
          return undefined;
        }
        const result = nodeInfoFromNode(event.object);
        if (!result.ok) return { kind, key, reason: result.reason };
        this.#node.update(this.#nodeName, result.value);
        return undefined;
      }
      default:
        return undefined;
    }
  }

  /** Fold pending changes into a new immutable Snapshot. */
  commit(): CommitResult {
    const affected = new Set<ServiceKey>();
    const serviceChanges = this.#services.checkout();
    const sliceChanges = this.#slices.checkout();
    const nodeChanges = this.#node.checkout();

    for (const { previous, current } of serviceChanges.values()) {
      for (const ports of [previous, current]) {
        const serviceKey = serviceKeyOf(ports);
        if (serviceKey) affected.add(serviceKey);
      }
    }
    for (const [sliceKey, { previous, current }] of sliceChanges) {
      if (previous) {
        affected.add(previous.serviceKey);
        const slices = this.#slicesByService.get(previous.serviceKey);
        slices?.delete(sliceKey);
        if (slices?.size === 0) this.#slicesByService.delete(previous.serviceKey);
      }
      if (current) {
        affected.add(current.serviceKey);
        let slices = this.#slicesByService.get(current.serviceKey);
        if (!slices) this.#slicesByService.set(current.serviceKey, (slices = new Map()));
        slices.set(sliceKey, current);
      }
    }

    const oldPorts = new Map<ServiceKey, readonly ServicePort[]>();
    for (const serviceKey of affected) oldPorts.set(serviceKey, this.#portsByService.get(serviceKey) ?? []);
    for (const { previous, current } of serviceChanges.values()) {
      const previousKey = serviceKeyOf(previous);
      if (previousKey) this.#portsByService.delete(previousKey);
      const currentKey = serviceKeyOf(current);
      if (currentKey && current) this.#portsByService.set(currentKey, current);
    }

    const old = this.#snapshot;
    // Copied only when some Service is affected (10k entries cost milliseconds per commit); see the snapshot below.
    const services = new Map<ServicePortKey, ServicePort>(affected.size === 0 ? undefined : old.services);
    const endpoints = new Map<ServicePortKey, readonly Endpoint[]>(affected.size === 0 ? undefined : old.endpoints);
    const changed = new Set<ServicePortKey>();
    for (const serviceKey of affected) {
      const ports = this.#portsByService.get(serviceKey) ?? [];
      const slices = [...(this.#slicesByService.get(serviceKey)?.values() ?? [])];
      const stillThere = new Set(ports.map((p) => p.key));
      for (const port of oldPorts.get(serviceKey) ?? []) {
        if (stillThere.has(port.key)) continue;
        services.delete(port.key);
        endpoints.delete(port.key);
        changed.add(port.key);
      }
      for (const port of ports) {
        const merged = mergeSliceEndpoints(slices, port.portName, port.protocol);
        const previousPort = old.services.get(port.key);
        const previousEndpoints = endpointsFor(old, port.key);
        const portSame = deepEqual(previousPort, port);
        const endpointsSame = deepEqual(previousEndpoints, merged);
        // Keep the old objects when nothing changed, so unchanged entries are shared between snapshots.
        services.set(port.key, portSame && previousPort ? previousPort : port);
        if (merged.length === 0) endpoints.delete(port.key);
        else endpoints.set(port.key, endpointsSame ? previousEndpoints : merged);
        if (!portSame || !endpointsSame) changed.add(port.key);
      }
    }

    const nodeChanged = nodeChanges.size > 0;
    this.#snapshot = Object.freeze({
      node: nodeChanged ? this.#node.committed(this.#nodeName) : old.node,
      // No service port changed: the copies hold exactly what the old maps hold, so the old ones stay shared.
      services: changed.size === 0 ? old.services : services,
      endpoints: changed.size === 0 ? old.endpoints : endpoints,
    });
    return { snapshot: this.#snapshot, changed, nodeChanged };
  }
}
