/**
 * Typed rule form → `nft -f` text (nft 1.0.6 syntax). Pure.
 */
import type { IPFamily } from '../../model/types.ts';
import type { Action, Chain, Element, KeyField, KeyType, Match, Rule, SetDef, Verdict } from './model.ts';

const hex = (n: number): string => `0x${n.toString(16)}`;
const ipKw = (family: IPFamily): string => (family === 4 ? 'ip' : 'ip6');

export const renderVerdict = (v: Verdict): string => ('chain' in v ? `${v.v} ${v.chain}` : v.v);

const renderKeyField = (f: KeyField, family: IPFamily): string => {
  switch (f) {
    case 'daddr':
    case 'saddr':
      return `${ipKw(family)} ${f}`;
    case 'l4proto':
      return 'meta l4proto';
    case 'dport':
      return 'th dport';
  }
};

const renderKey = (key: readonly KeyField[], family: IPFamily): string =>
  key.map((k) => renderKeyField(k, family)).join(' . ');

const renderValues = (values: readonly string[]): string =>
  values.length === 1 ? values[0]! : `{ ${values.join(', ')} }`;

export const renderMatch = (m: Match, family: IPFamily): string => {
  switch (m.m) {
    case 'addr':
      return `${ipKw(family)} ${m.field} ${m.op === '!=' ? '!= ' : ''}${renderValues(m.values)}`;
    case 'addrInSet':
      return `${ipKw(family)} ${m.field} ${m.op === '!=' ? '!= ' : ''}@${m.set}`;
    case 'keyInSet':
      return `${renderKey(m.key, family)} @${m.set}`;
    case 'fibLocal':
      return `fib ${m.field} type local`;
    case 'iifname':
      return `iifname ${m.op === '!=' ? '!= ' : ''}"${m.name}${m.prefix ? '*' : ''}"`;
    case 'l4proto':
      return `meta l4proto ${m.proto}`;
    case 'ctState':
      return `ct state ${m.state}`;
    case 'ctStatusDnat':
      return 'ct status dnat';
    case 'markUnset':
      return `meta mark & ${hex(m.mask)} == 0`;
  }
};

const renderTarget = (ip: string, port: number, family: IPFamily): string =>
  family === 4 ? `${ip}:${port}` : `[${ip}]:${port}`;

export const renderAction = (a: Action, family: IPFamily): string => {
  switch (a.a) {
    case 'verdict':
      return renderVerdict(a.verdict);
    case 'vmap':
      return `${renderKey(a.key, family)} vmap @${a.map}`;
    case 'numgenGoto':
      return `numgen random mod ${a.chains.length} vmap { ${a.chains.map((c, i) => `${i} : goto ${c}`).join(', ')} }`;
    case 'dnat': {
      const t = a.targets[0];
      return `meta l4proto ${a.proto} dnat to ${renderTarget(t.ip, t.port, family)}`;
    }
    case 'dnatSlots': {
      const offset = a.offset === 0 ? '' : ` offset ${a.offset}`;
      return `meta l4proto ${a.proto} dnat ${ipKw(family)} to numgen random mod ${a.mod}${offset} map @${a.map}`;
    }
    case 'dnatShared': {
      const ip = ipKw(family);
      const addr = a.byAddress ? `${ip} daddr . ` : '';
      return `meta l4proto ${a.proto} dnat ${ip} to ${addr}${a.proto} dport . numgen random mod ${a.mod} map @${a.map}`;
    }
    case 'markOr':
      return `meta mark set meta mark | ${hex(a.mask)}`;
    case 'markXor':
      return `meta mark set meta mark ^ ${hex(a.mask)}`;
    case 'masquerade':
      return 'masquerade fully-random';
    case 'updateSaddr':
      return `update @${a.set} { ${ipKw(family)} saddr timeout ${a.timeoutSeconds}s }`;
    case 'reject':
      return a.tcpReset ? 'meta l4proto tcp reject with tcp reset' : 'reject';
  }
};

export const renderRule = (r: Rule, family: IPFamily): string =>
  [...r.matches.map((m) => renderMatch(m, family)), ...r.actions.map((a) => renderAction(a, family))].join(' ');

const ruleTextCache = new WeakMap<Chain, readonly string[]>();
/** Rendered rules of a chain, cached per (immutable) chain object. */
export const chainRuleTexts = (chain: Chain, family: IPFamily): readonly string[] => {
  let texts = ruleTextCache.get(chain);
  if (texts === undefined) {
    texts = chain.rules.map((r) => renderRule(r, family));
    ruleTextCache.set(chain, texts);
  }
  return texts;
};

const keyTypeName = (t: KeyType, family: IPFamily): string =>
  t === 'addr' ? (family === 4 ? 'ipv4_addr' : 'ipv6_addr') : t === 'proto' ? 'inet_proto' : t === 'port' ? 'inet_service' : 'integer';

export const renderSetBody = (s: SetDef, family: IPFamily): string => {
  if (s.endpointProto !== undefined) {
    // A plain integer key type is refused against numgen, hence typeof; one protocol per map (see slots.ts).
    if (s.key.length > 1) {
      const dst = `${ipKw(family)} daddr . ${s.endpointProto} dport`;
      const key = s.key.length === 3 ? dst : `${s.endpointProto} dport`;
      return `{ typeof ${key} . numgen random mod 1 : ${dst} ; }`;
    }
    return `{ typeof numgen random mod 1 : ${ipKw(family)} daddr . ${s.endpointProto} dport ; }`;
  }
  const type = s.key.map((k) => keyTypeName(k, family)).join(' . ') + (s.kind === 'map' ? ' : verdict' : '');
  const flags = s.flags.length > 0 ? ` flags ${s.flags.join(',')} ;` : '';
  return `{ type ${type} ;${flags} }`;
};

export const renderChainBody = (c: Chain): string =>
  c.base === undefined ? '' : ` { type ${c.base.type} hook ${c.base.hook} priority ${c.base.priority} ; policy accept ; }`;

export const renderElement = (e: Element): string => (e.value === '' ? e.key : `${e.key} : ${e.value}`);

/** Element key text from its parts. */
export const elementKey = (...parts: readonly (string | number)[]): string => parts.join(' . ');

const slotKeys: string[] = [];
/** The key text of endpoint slot `n`, shared by every element of every map that uses that slot. */
export const slotKey = (n: number): string => (slotKeys[n] ??= String(n));

/** Parses element key text back into its parts (tracer, tests). */
export const elementKeyParts = (key: string): string[] => key.split(' . ');

/** Parses a verdict as renderVerdict writes it. */
export const parseVerdict = (text: string): Verdict | undefined => {
  const [v, chain] = text.split(' ');
  if ((v === 'accept' || v === 'drop' || v === 'return') && chain === undefined) return { v };
  if ((v === 'jump' || v === 'goto') && chain !== undefined) return { v, chain };
  return undefined;
};
