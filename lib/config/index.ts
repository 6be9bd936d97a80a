/** Public surface of lib/config: parse the command line (+ --config file) into a validated Config. */
export { parseCommandLine, resolveNodeName, type CommandLineIO, type ParsedCommand } from './command-line.ts';
export * from './types.ts';
export { formatDuration, formatHostPort, parseDuration } from './values.ts';
export { CONFIG_API_VERSION, CONFIG_KIND } from './config-file.ts';
export { renderKubeProxyConfiguration } from './write-config.ts';
