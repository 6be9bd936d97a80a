/**
 * The resource types the test API server serves, and the discovery documents kubectl reads to find them.
 */
export interface ResourceType {
  readonly kind: string;
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames?: readonly string[];
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  { kind: 'Service', group: '', version: 'v1', plural: 'services', singular: 'service', namespaced: true, shortNames: ['svc'] },
  { kind: 'Node', group: '', version: 'v1', plural: 'nodes', singular: 'node', namespaced: false, shortNames: ['no'] },
  { kind: 'Secret', group: '', version: 'v1', plural: 'secrets', singular: 'secret', namespaced: true },
  { kind: 'Namespace', group: '', version: 'v1', plural: 'namespaces', singular: 'namespace', namespaced: false, shortNames: ['ns'] },
  {
    kind: 'EndpointSlice', group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', singular: 'endpointslice',
    namespaced: true,
  },
  { kind: 'Ingress', group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', singular: 'ingress', namespaced: true, shortNames: ['ing'] },
  { kind: 'IngressClass', group: 'networking.k8s.io', version: 'v1', plural: 'ingressclasses', singular: 'ingressclass', namespaced: false },
];

export const apiVersionOf = (t: ResourceType): string => (t.group ? `${t.group}/${t.version}` : t.version);

export const resourceByKind = (kind: string): ResourceType | undefined => RESOURCE_TYPES.find((t) => t.kind === kind);

export const resourceByPath = (group: string, version: string, plural: string): ResourceType | undefined =>
  RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.plural === plural);

const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
const WITH_STATUS = new Set(['Service', 'Node', 'Ingress']);

const groupVersions = (): Map<string, ResourceType[]> => {
  const byGv = new Map<string, ResourceType[]>();
  for (const t of RESOURCE_TYPES) {
    const gv = apiVersionOf(t);
    byGv.set(gv, [...(byGv.get(gv) ?? []), t]);
  }
  return byGv;
};

/** GET /api */
export const coreVersions = (serverAddress: string): object => ({
  kind: 'APIVersions',
  versions: ['v1'],
  serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
});

/** GET /apis */
export const groupList = (): object => {
  const groups = new Map<string, string[]>();
  for (const t of RESOURCE_TYPES) {
    if (t.group) groups.set(t.group, [...new Set([...(groups.get(t.group) ?? []), t.version])]);
  }
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups].map(([name, versions]) => ({
      name,
      versions: versions.map((version) => ({ groupVersion: `${name}/${version}`, version })),
      preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
    })),
  };
};

/** GET /apis/<group> */
export const groupDocument = (group: string): object | undefined => {
  const versions = [...new Set(RESOURCE_TYPES.filter((t) => t.group === group).map((t) => t.version))];
  if (versions.length === 0) return undefined;
  return {
    kind: 'APIGroup',
    apiVersion: 'v1',
    name: group,
    versions: versions.map((version) => ({ groupVersion: `${group}/${version}`, version })),
    preferredVersion: { groupVersion: `${group}/${versions[0]}`, version: versions[0] },
  };
};

/** GET /api/v1 or /apis/<group>/<version> */
export const resourceList = (groupVersion: string): object | undefined => {
  const types = groupVersions().get(groupVersion);
  if (!types) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: types.flatMap((t) => [
      {
        name: t.plural,
        singularName: t.singular,
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: VERBS,
        ...(t.shortNames ? { shortNames: t.shortNames } : {}),
      },
      // The status subresource (kubectl --subresource=status finds it here).
      ...(WITH_STATUS.has(t.kind)
        ? [{ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] }]
        : []),
    ]),
  };
};

export const versionInfo = (): object => ({
  major: '1',
  minor: '33',
  gitVersion: 'v1.33.0-switchyard-test',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.24.0',
  compiler: 'gc',
  platform: 'linux/amd64',
});
