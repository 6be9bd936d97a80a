/**
 * Typed iptables rule form: what the builder produces, what the tracer evaluates, and what renders to (and parses
 * back from) `iptables-restore` rule text. Only the matches and targets switchyard uses exist here. Pure.
 */
import type { IPFamily } from '../../model/types.ts';

export type TableName = 'filter' | 'nat' | 'mangle';
export type L4 = 'tcp' | 'udp' | 'sctp';

export const CHAIN_PREFIX = 'SWITCHYARD-';
/** iptables refuses chain names longer than this. */
export const MAX_CHAIN_NAME = 28;

export type Match =
  | { readonly m: 'src'; readonly neg: boolean; readonly cidr: string }
  | { readonly m: 'dst'; readonly neg: boolean; readonly cidr: string }
  /** `-i cbr0`, `! -i veth+` (a trailing `+` matches every name with that prefix) */
  | { readonly m: 'inIface'; readonly neg: boolean; readonly name: string }
  | { readonly m: 'proto'; readonly proto: L4 }
  /** `-m <proto> --dport N`; needs a preceding proto match. */
  | { readonly m: 'dport'; readonly proto: L4; readonly port: number }
  | { readonly m: 'addrtype'; readonly field: 'src' | 'dst'; readonly neg: boolean }
  /** `-m conntrack [!] --ctstate A,B`: any of the states (none of them when negated). */
  | { readonly m: 'ctstate'; readonly states: readonly string[]; readonly neg?: boolean }
  | { readonly m: 'mark'; readonly neg: boolean; readonly mark: number }
  | { readonly m: 'statistic'; readonly probability: string }
  | { readonly m: 'recent'; readonly mode: 'rcheck' | 'set'; readonly name: string; readonly mask: string; readonly seconds?: number }
  | { readonly m: 'comment'; readonly text: string }
  /** `-m set [!] --match-set NAME dst,dst[,src]` (IPVS mode's helper rules). */
  | { readonly m: 'set'; readonly neg: boolean; readonly name: string; readonly dirs: readonly ('src' | 'dst')[] };

export type Target =
  | { readonly t: 'jump'; readonly chain: string }
  | { readonly t: 'ACCEPT' | 'DROP' | 'RETURN' | 'REJECT' }
  | { readonly t: 'DNAT'; readonly to: string }
  | { readonly t: 'MASQUERADE' }
  | { readonly t: 'MARK'; readonly op: 'or' | 'xor'; readonly mark: number };

export interface Rule {
  readonly matches: readonly Match[];
  readonly target: Target;
}

/** Targets that are not chains (a jump to anything else must name an existing chain). */
export const BUILTIN_TARGETS: ReadonlySet<string> = new Set(['ACCEPT', 'DROP', 'RETURN', 'REJECT', 'DNAT', 'SNAT', 'MASQUERADE', 'MARK']);
export const BUILTIN_CHAINS: Readonly<Record<TableName, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
};

export const hostCidr = (ip: string): string => (ip.includes('/') ? ip : ip.includes(':') ? `${ip}/128` : `${ip}/32`);
export const hostMask = (family: IPFamily): string => (family === 4 ? '255.255.255.255' : 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
const hex = (n: number): string => `0x${n.toString(16)}`;

const renderMatch = (m: Match): string => {
  switch (m.m) {
    case 'src':
      return `${m.neg ? '! ' : ''}-s ${m.cidr}`;
    case 'dst':
      return `${m.neg ? '! ' : ''}-d ${m.cidr}`;
    case 'inIface':
      return `${m.neg ? '! ' : ''}-i ${m.name}`;
    case 'proto':
      return `-p ${m.proto}`;
    case 'dport':
      return `-m ${m.proto} --dport ${m.port}`;
    case 'addrtype':
      return `-m addrtype ${m.neg ? '! ' : ''}--${m.field}-type LOCAL`;
    case 'ctstate':
      return `-m conntrack ${m.neg === true ? '! ' : ''}--ctstate ${m.states.join(',')}`;
    case 'mark':
      return `-m mark ${m.neg ? '! ' : ''}--mark ${hex(m.mark)}/${hex(m.mark)}`;
    case 'statistic':
      return `-m statistic --mode random --probability ${m.probability}`;
    case 'recent':
      return m.mode === 'rcheck'
        ? `-m recent --rcheck --seconds ${m.seconds ?? 0} --reap --name ${m.name} --mask ${m.mask} --rsource`
        : `-m recent --set --name ${m.name} --mask ${m.mask} --rsource`;
    case 'comment':
      return `-m comment --comment ${m.text}`;
    case 'set':
      return `-m set ${m.neg ? '! ' : ''}--match-set ${m.name} ${m.dirs.join(',')}`;
  }
};

const renderTarget = (t: Target): string => {
  switch (t.t) {
    case 'jump':
      return `-j ${t.chain}`;
    case 'DNAT':
      return `-j DNAT --to-destination ${t.to}`;
    case 'MASQUERADE':
      return '-j MASQUERADE --random-fully';
    case 'MARK':
      return `-j MARK --${t.op}-mark ${hex(t.mark)}`;
    default:
      return `-j ${t.t}`;
  }
};

/** The rule's text after `-A CHAIN `. */
export const renderRule = (r: Rule): string => [...r.matches.map(renderMatch), renderTarget(r.target)].join(' ');

/** Comment text safe to render unquoted (Kubernetes names hold no spaces or quotes; anything else is replaced). */
export const commentText = (s: string): string => s.replace(/[^A-Za-z0-9_./:-]/g, '_').slice(0, 255) || '_';

/** Splits rule text into argv tokens, removing the double quotes iptables-save puts around comments. */
export const tokenize = (line: string): string[] => {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
};

const parseMark = (s: string): number => Number(s.split('/')[0]);

/**
 * Parses rule text (our rendering, or `iptables-save` output of our rules: quoted comments, `/32` masks, other
 * option order) back to the typed form. Throws on anything it does not know, naming the token.
 */
export const parseRule = (line: string): Rule => {
  const tok = tokenize(line);
  const matches: Match[] = [];
  let target: Target | undefined;
  let i = 0;
  const next = (what: string): string => {
    const v = tok[i++];
    if (v === undefined) throw new Error(`missing value for ${what} in "${line}"`);
    return v;
  };
  let neg = false;
  while (i < tok.length) {
    const t = tok[i++]!;
    if (t === '!') {
      neg = true;
      continue;
    }
    const wasNeg = neg;
    neg = false;
    switch (t) {
      case '-s':
        matches.push({ m: 'src', neg: wasNeg, cidr: hostCidr(next(t)) });
        break;
      case '-d':
        matches.push({ m: 'dst', neg: wasNeg, cidr: hostCidr(next(t)) });
        break;
      case '-i':
        matches.push({ m: 'inIface', neg: wasNeg, name: next(t) });
        break;
      case '-p':
        matches.push({ m: 'proto', proto: next(t) as L4 });
        break;
      case '-m': {
        const mod = next(t);
        i = parseModule(mod, tok, i, matches, line);
        break;
      }
      case '-j': {
        const name = next(t);
        target = parseTarget(name, tok, i, line);
        i = tok.length;
        break;
      }
      default:
        throw new Error(`unsupported token "${t}" in "${line}"`);
    }
  }
  if (target === undefined) throw new Error(`rule without target: "${line}"`);
  return { matches, target };
};

const parseModule = (mod: string, tok: readonly string[], start: number, out: Match[], line: string): number => {
  let i = start;
  const opts = new Map<string, { value: string | undefined; neg: boolean }>();
  let neg = false;
  while (i < tok.length && (tok[i]!.startsWith('--') || tok[i] === '!')) {
    const name = tok[i++]!;
    if (name === '!') {
      neg = true;
      continue;
    }
    const flag = ['--rcheck', '--set', '--reap', '--rsource', '--random-fully'].includes(name);
    // --match-set takes two values: the set's name and its directions.
    if (name === '--match-set') opts.set('--dirs', { value: tok[i + 1], neg });
    opts.set(name, { value: flag ? undefined : tok[i++], neg });
    if (name === '--match-set') i++;
    neg = false;
  }
  const get = (k: string): string => {
    const v = opts.get(k)?.value;
    if (v === undefined) throw new Error(`-m ${mod} needs ${k} in "${line}"`);
    return v;
  };
  switch (mod) {
    case 'tcp':
    case 'udp':
    case 'sctp':
      if (opts.has('--dport')) out.push({ m: 'dport', proto: mod, port: Number(get('--dport')) });
      break;
    case 'addrtype': {
      const field = opts.has('--src-type') ? 'src' : 'dst';
      out.push({ m: 'addrtype', field, neg: opts.get(`--${field}-type`)?.neg ?? false });
      break;
    }
    case 'conntrack':
      out.push({ m: 'ctstate', states: get('--ctstate').split(','), ...(opts.get('--ctstate')?.neg === true ? { neg: true } : {}) });
      break;
    case 'mark':
      out.push({ m: 'mark', neg: opts.get('--mark')?.neg ?? false, mark: parseMark(get('--mark')) });
      break;
    case 'statistic':
      out.push({ m: 'statistic', probability: get('--probability') });
      break;
    case 'recent': {
      const rcheck = opts.has('--rcheck');
      const base = { name: get('--name'), mask: get('--mask') };
      out.push(rcheck ? { m: 'recent', mode: 'rcheck', ...base, seconds: Number(get('--seconds')) } : { m: 'recent', mode: 'set', ...base });
      break;
    }
    case 'comment':
      out.push({ m: 'comment', text: get('--comment') });
      break;
    case 'set':
      out.push({ m: 'set', neg: opts.get('--match-set')?.neg ?? false, name: get('--match-set'), dirs: get('--dirs').split(',') as ('src' | 'dst')[] });
      break;
    default:
      throw new Error(`unsupported match module "${mod}" in "${line}"`);
  }
  return i;
};

const parseTarget = (name: string, tok: readonly string[], start: number, line: string): Target => {
  const rest = tok.slice(start);
  const opt = (k: string): string | undefined => {
    const idx = rest.indexOf(k);
    return idx < 0 ? undefined : rest[idx + 1];
  };
  switch (name) {
    case 'DNAT': {
      const to = opt('--to-destination');
      if (to === undefined) throw new Error(`DNAT without --to-destination in "${line}"`);
      return { t: 'DNAT', to };
    }
    case 'MASQUERADE':
      return { t: 'MASQUERADE' };
    case 'MARK': {
      const or = opt('--or-mark');
      const xor = opt('--xor-mark');
      if (or !== undefined) return { t: 'MARK', op: 'or', mark: parseMark(or) };
      if (xor !== undefined) return { t: 'MARK', op: 'xor', mark: parseMark(xor) };
      // iptables-save spells `--or-mark X` as `--set-xmark X/X` and `--xor-mark X` as `--set-xmark X/0x0`.
      const x = opt('--set-xmark');
      if (x === undefined) throw new Error(`MARK without a mark option in "${line}"`);
      const [v, m] = x.split('/');
      return { t: 'MARK', op: Number(m) === 0 ? 'xor' : 'or', mark: Number(v) };
    }
    case 'ACCEPT':
    case 'DROP':
    case 'RETURN':
    case 'REJECT':
      return { t: name };
    default:
      return { t: 'jump', chain: name };
  }
};

/** The chain a rule text jumps to (not a built-in target), or undefined. */
export const jumpTarget = (ruleText: string): string | undefined => {
  const m = / -[jg] (\S+)/.exec(` ${ruleText}`);
  if (m === null) return undefined;
  return BUILTIN_TARGETS.has(m[1]!) ? undefined : m[1];
};
