#!/usr/bin/env node
/** Entry point: parse the command line, hand over to the chosen command, map failures to exit codes. */
import { main } from '../lib/app/main.ts';

process.exitCode = await main(process.argv.slice(2));
