import test from 'ava';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildRuleset } from '../../../../lib/dataplane/nftables/ruleset.ts';
import { fullTransaction } from '../../../../lib/dataplane/nftables/diff.ts';
import { Transaction } from '../../../../lib/dataplane/nftables/transaction.ts';
import { FakeNft } from '../../../../lib/dataplane/nftables/fake.ts';
import type { DesiredState } from '../../../../lib/plan/types.ts';
import { desired, goldenStates } from '../fixtures.ts';

const goldenDir = fileURLToPath(new URL('./golden/', import.meta.url));

const fixtures: Record<string, DesiredState> = goldenStates();

for (const [name, state] of Object.entries(fixtures)) {
  test(`golden full-sync script: ${name}`, async (t) => {
    const script = fullTransaction(buildRuleset(state)).render();
    const file = `${goldenDir}${name}.nft`;
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
      writeFileSync(file, script);
      t.log(`wrote ${file}`);
    }
    t.is(script, readFileSync(file, 'utf8'));
    // The script is self-consistent: the fake kernel accepts it.
    await t.notThrowsAsync(new FakeNft().run(script));
  });
}

test('transaction remembers the first error and keeps building', (t) => {
  const tx = new Transaction();
  tx.add(4, { kind: 'table' });
  tx.add(4, { kind: 'chain', chain: { name: 'bad name' } });
  tx.replace(4, { kind: 'rule', chain: 'x', rule: { matches: [], actions: [] } });
  tx.add(4, { kind: 'chain', chain: { name: 'ok' } });
  t.is(tx.error?.code, 'ERR_DATAPLANE_APPLY');
  t.regex(tx.error?.message ?? '', /invalid object name "bad name"/);
  t.is(tx.length, 3); // the bad chain is kept; replace is refused outright
});

test('transaction rejects verbs that do not apply to an object', (t) => {
  const tx = new Transaction();
  tx.flush(4, { kind: 'rule', chain: 'x', rule: { matches: [], actions: [] } });
  t.regex(tx.error?.message ?? '', /verb "flush" is not supported for a rule/);
});

test('chain bodies always end their statements with ;', (t) => {
  const script = fullTransaction(buildRuleset(desired([]))).render();
  t.regex(script, /add chain ip switchyard nat-prerouting \{ type nat hook prerouting priority -100 ; policy accept ; \}/);
  t.notRegex(script, /priority dstnat/);
});
