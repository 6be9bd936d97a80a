/** Writes a kubeconfig that points kubectl or client-node at a test API server over plain HTTP. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const kubeconfigYaml = (serverUrl: string): string => `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: ${serverUrl}
    insecure-skip-tls-verify: true
users:
- name: test
  user:
    token: test-token
contexts:
- name: test
  context:
    cluster: test
    user: test
current-context: test
`;

/** Returns the path of a fresh kubeconfig file in its own temporary directory. */
export const writeKubeconfig = async (serverUrl: string): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-kubeconfig-'));
  const path = join(dir, 'kubeconfig');
  await writeFile(path, kubeconfigYaml(serverUrl), { mode: 0o600 });
  return path;
};
