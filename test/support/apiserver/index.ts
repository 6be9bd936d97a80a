export { TestApiServer, type TestApiServerOptions, type RequestFilter, type RequestRecord } from './server.ts';
export { ObjectStore, StoreError, type JsonObject, type StoredEvent } from './store.ts';
export { writeKubeconfig, kubeconfigYaml } from './kubeconfig.ts';
export { parseLabelSelector, parseFieldSelector, SelectorError } from './selectors.ts';
export { RESOURCE_TYPES, type ResourceType } from './resources.ts';
