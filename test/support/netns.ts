/**
 * Test-side helpers for kernel tests: skip cleanly (with the reason printed) when this machine cannot build
 * network namespaces, and a sandbox per test file that is always destroyed.
 */
import test, { type TestFn } from 'ava';
import { Sandbox, type SandboxOptions } from '../../lib/sandbox/sandbox.ts';
import { isNetnsSupported } from '../../lib/sandbox/support.ts';
import type { SandboxSpec } from '../../lib/sandbox/spec.ts';
import { isFailure, type AgentFailure } from '../../lib/sandbox/agent-protocol.ts';

/** Why kernel tests cannot run here, or undefined when they can. */
export const netnsSkipReason: string | undefined = await isNetnsSupported();

/** `test` when netns works, `test.skip` otherwise (the reason is printed once per file). */
export const netnsTest = (title: string): TestFn => {
  if (netnsSkipReason) {
    console.log(`[${title}] kernel tests skipped: ${netnsSkipReason}`);
    return test.skip as unknown as TestFn;
  }
  return test;
};

/**
 * One sandbox shared by the tests of a file: built in test.before, destroyed in test.after.always.
 * `get()` returns it (throws if the build failed, so every test reports the build error).
 */
export const sharedSandbox = (spec: SandboxSpec, options: SandboxOptions = {}): { get: () => Sandbox } => {
  let sandbox: Sandbox | undefined;
  let failure: unknown;
  if (!netnsSkipReason) {
    test.before(async (t) => {
      try {
        sandbox = await Sandbox.create(spec, options);
        t.log(`sandbox ${sandbox.prefix} (${sandbox.podNetwork}) built: ${JSON.stringify(sandbox.timings)}`);
        for (const w of sandbox.warnings) t.log(`warning: ${w}`);
      } catch (e) {
        failure = e;
      }
    });
    test.after.always(async () => { await sandbox?.destroy(); });
  }
  return {
    get: () => {
      if (sandbox) return sandbox;
      throw failure instanceof Error ? failure : new Error('sandbox was not built');
    },
  };
};

/** Narrows an agent response to success, failing with the agent's error code otherwise. */
export const ok = <T>(response: T | AgentFailure, what = 'request'): T => {
  if (isFailure(response)) throw new Error(`${what} failed: ${response.error} ${response.message ?? ''} (${response.durationMs} ms)`);
  return response;
};

/** The IP part of an echo server's `client` field ("10.0.0.1:1234" / "[fd00::1]:1234"). */
export const clientIP = (client: string): string => client.replace(/^\[/, '').replace(/\]?:\d+$/, '');
