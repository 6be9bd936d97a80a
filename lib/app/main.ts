/**
 * The command line's top level: parse, pick the command, map failures to exit codes (2 = bad usage, 1 = failure).
 */
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { parseCommandLine, renderKubeProxyConfiguration, resolveNodeName } from '../config/index.ts';
import { describeError, isSwitchyardError } from '../errors.ts';
import { createLogger } from '../telemetry/logger.ts';
import { runPlanCommand } from './plan-command.ts';
import { runCleanup, runDaemonUntilSignalled, runInitOnly } from './run-command.ts';
import { runDemo } from '../demo/demo.ts';

/** The repository root (dist/lib/app → root, or lib/app → root when run from sources). */
const projectRoot = (): string => {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return resolve(here, here.includes('/dist/') ? '../../..' : '../..');
};

/** package.json's version (the one file both the sources and dist/ are run beside). */
const projectVersion = async (): Promise<string> =>
  (JSON.parse(await readFile(resolve(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;

export const main = async (argv: readonly string[]): Promise<number> => {
  let parsed;
  try {
    parsed = await parseCommandLine(argv);
  } catch (e) {
    process.stderr.write(`switchyard: ${isSwitchyardError(e) ? e.message : describeError(e)}\n`);
    return 2;
  }
  const { config } = parsed;
  const logger = createLogger(config.logLevel);
  for (const warning of parsed.warnings) logger.warn({}, warning);
  const nodeName = resolveNodeName(config, hostname());
  try {
    switch (parsed.command) {
      case 'plan':
        await runPlanCommand(config, nodeName, parsed.output, logger, {
          write: (text) => process.stdout.write(text),
          warn: (line) => process.stderr.write(`warning: ${line}\n`),
        });
        return 0;
      case 'cleanup':
        return await runCleanup(config, logger);
      case 'demo': {
        const root = projectRoot();
        const controller = new AbortController();
        const abort = (): void => controller.abort();
        process.once('SIGINT', abort);
        process.once('SIGTERM', abort);
        return await runDemo({
          examplesDir: resolve(root, 'examples'),
          daemonArgv: (node, dir) => [
            process.execPath, resolve(root, 'dist/cmd/switchyard.js'),
            '--manifests', dir, '--hostname-override', node,
            '--cluster-cidr', '10.244.0.0/16,fd00:244::/32',
            '--healthz-bind-address', '127.0.0.1:10256', '--metrics-bind-address', '127.0.0.1:10249',
            '--ingress-http-address', '0.0.0.0:80', '--ingress-https-address', '0.0.0.0:443',
          ],
          log: (line) => process.stdout.write(`${line}\n`),
          signal: controller.signal,
        });
      }
      case 'run':
        return await runDaemonUntilSignalled(config, nodeName, logger);
      case 'init-only':
        return await runInitOnly(config, logger);
      case 'write-config':
        await writeFile(parsed.path, renderKubeProxyConfiguration(config));
        logger.info({ path: parsed.path }, `wrote the configuration to ${parsed.path}`);
        return 0;
      case 'version':
        process.stdout.write(`switchyard v${await projectVersion()}\n`);
        return 0;
    }
  } catch (e) {
    logger.error({ err: describeError(e) }, describeError(e));
    process.stderr.write(`switchyard: ${describeError(e)}\n`);
    return 1;
  }
};
