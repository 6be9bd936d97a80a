#!/usr/bin/env node
// Runs the whole ava suite and ends with one line "N passed, N failed, N skipped", the form CI reads.
// ava's TAP output is passed through for the log; the counts come from its closing "# pass/# fail/# skip" lines.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const started = Date.now();
const args = ['--tap', ...process.argv.slice(2)];
const child = spawn(process.execPath, ['node_modules/ava/entrypoints/cli.js', ...args], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const counts = { pass: 0, fail: 0, skip: 0, todo: 0 };
let notOk = 0;
const lines = createInterface({ input: child.stdout });
lines.on('line', (line) => {
  process.stdout.write(`${line}\n`);
  const summary = /^# (pass|fail|skip|todo) (\d+)/.exec(line);
  if (summary) counts[summary[1]] = Number(summary[2]);
  if (/^not ok /.test(line) && !/# (SKIP|TODO)/.test(line)) notOk += 1;
});
child.on('close', (code, signal) => {
  // A crashed worker or an uncaught exception can fail the run without a failed test line: count it.
  let failed = Math.max(counts.fail, notOk);
  if ((code !== 0 || signal) && failed === 0) failed = 1;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`\nwall time ${seconds}s\n`);
  process.stdout.write(`${counts.pass} passed, ${failed} failed, ${counts.skip} skipped\n`);
  process.exit(failed > 0 ? 1 : 0);
});
