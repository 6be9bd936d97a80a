#!/usr/bin/env node
/**
 * Entry point: check the runtime, then hand over to lib/app/main.ts. The check runs before anything else is
 * loaded, because dependencies fail on an old Node with errors that say nothing about the cause.
 */
const MIN_NODE_MAJOR = 22;
const major = Number(process.versions.node.split('.')[0]);
if (major < MIN_NODE_MAJOR) {
  process.stderr.write(
    `switchyard: needs Node.js >= ${MIN_NODE_MAJOR}, this is ${process.version}; run it with node_modules/.bin ` +
      `first on PATH (npm ci installs the runtime there), e.g. PATH=$PWD/node_modules/.bin:$PATH\n`,
  );
  process.exit(1);
}
const { main } = await import('../lib/app/main.ts');
process.exitCode = await main(process.argv.slice(2));
