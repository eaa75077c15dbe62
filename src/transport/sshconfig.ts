import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir, hostname as localHostname, userInfo } from 'node:os';
import path from 'node:path';
import { ioReason, NatchainError } from '../errors.js';

// A reader for the part of ssh_config(5) natchain uses, following OpenSSH's semantics:
// one pass over the file, `Host`/`Match` blocks switch options on and off, and for most
// keywords the first value obtained wins (IdentityFile accumulates). Parsing and resolving
// are pure; only loadSshConfig touches the file system (for the file itself and Include).

/** One line of a config file that sets an option. */
export interface ConfigOption {
  /** Keyword, lower-cased. */
  key: string;
  /** Arguments split the way OpenSSH splits them (quotes honoured). */
  args: string[];
  /** The raw value after the keyword (ProxyCommand and friends keep it whole). */
  raw: string;
  file: string;
  line: number;
}

/** An item of a parsed config file, in file order. */
export type ConfigItem =
  | { kind: 'host'; patterns: string[]; file: string; line: number }
  | { kind: 'match'; criteria: string[]; file: string; line: number }
  | { kind: 'option'; option: ConfigOption }
  | { kind: 'include'; files: ParsedSshConfig[]; file: string; line: number };

/** A parsed ssh_config file. */
export interface ParsedSshConfig {
  file: string;
  items: ConfigItem[];
}

/** Reads an Include argument (already tilde-expanded, maybe a glob) into zero or more files. */
export type IncludeReader = (pattern: string, fromFile: string) => Array<{ file: string; text: string }>;

// Keywords whose value is the rest of the line, not a list of words (as in OpenSSH).
const RAW_KEYS = new Set(['proxycommand', 'localcommand', 'remotecommand', 'knownhostscommand']);

/** Splits an argument string like OpenSSH's argv_split: whitespace separates, quotes group, backslash escapes. */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === '\\' && (s[i + 1] === quote || s[i + 1] === '\\')) {
        cur += s[++i];
      } else if (c === quote) {
        quote = null;
      } else {
        cur += c;
      }
      continue;
    }
    if (c === ' ' || c === '\t') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    if (c === '#' && !inWord) break; // a comment after the arguments
    inWord = true;
    if (c === '"' || c === "'") quote = c;
    else if (c === '\\' && i + 1 < s.length && /["'\\ ]/.test(s[i + 1]!)) cur += s[++i];
    else cur += c;
  }
  if (quote) throw new Error('unterminated quote');
  if (inWord) out.push(cur);
  return out;
}

/** Parses ssh_config text; `include` reads Include targets (omit it to ignore Include lines). */
export function parseSshConfig(text: string, file: string, include?: IncludeReader, depth = 0): ParsedSshConfig {
  const items: ConfigItem[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, idx) => {
    const line = idx + 1;
    const trimmed = rawLine.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    // `Keyword value`, `Keyword=value` and `Keyword = value` are all accepted.
    const m = /^([A-Za-z][A-Za-z0-9]*)\s*(?:=\s*|\s+|$)(.*)$/.exec(trimmed);
    if (!m) throw configError(file, line, `cannot parse "${trimmed}"`);
    const key = m[1]!.toLowerCase();
    const rest = m[2]!.trim();
    let args: string[];
    try {
      args = RAW_KEYS.has(key) ? [rest] : splitArgs(rest);
    } catch (e) {
      throw configError(file, line, (e as Error).message);
    }
    if (key === 'host') {
      if (args.length === 0) throw configError(file, line, 'Host needs at least one pattern');
      items.push({ kind: 'host', patterns: args, file, line });
    } else if (key === 'match') {
      items.push({ kind: 'match', criteria: args, file, line });
    } else if (key === 'include') {
      if (!include) return;
      // OpenSSH limits nesting to 16; a loop would otherwise never end.
      if (depth >= 16) throw configError(file, line, 'Include nested too deeply');
      const files: ParsedSshConfig[] = [];
      for (const pattern of args) {
        for (const f of include(pattern, file)) files.push(parseSshConfig(f.text, f.file, include, depth + 1));
      }
      items.push({ kind: 'include', files, file, line });
    } else {
      items.push({ kind: 'option', option: { key, args, raw: rest, file, line } });
    }
  });
  return { file, items };
}

function configError(file: string, line: number, message: string): NatchainError {
  return new NatchainError('SSH', `${file}:${line}: ${message}`);
}

// Compiled glob patterns: resolving every gateway of a large fleet matches each alias against
// every Host line, so each pattern is compiled once per process, not once per comparison.
const globCache = new Map<string, RegExp>();

/** Matches one glob pattern (`*`, `?`) against a string, case-insensitively (as OpenSSH does for hosts). */
export function matchPattern(s: string, pattern: string): boolean {
  if (!/[*?]/.test(pattern)) return s.toLowerCase() === pattern.toLowerCase();
  let re = globCache.get(pattern);
  if (!re) {
    re = new RegExp(
      '^' +
        pattern
          .split('')
          .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
          .join('') +
        '$',
      'is',
    );
    globCache.set(pattern, re);
  }
  return re.test(s);
}

/**
 * Matches a list of patterns, some negated with `!`: true when a positive pattern matches and no
 * negated one does (a lone negation never matches, as in OpenSSH).
 */
export function matchPatternList(s: string, patterns: string[]): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (matchPattern(s, p.slice(1))) return false;
    } else if (matchPattern(s, p)) {
      matched = true;
    }
  }
  return matched;
}

// Resolving every gateway of a fleet used to walk the whole parsed file once per host: with a Host
// block per gateway that was quadratic (0.2 ms per host at 1,000 blocks). Each file is indexed once:
// where each block ends, and which blocks a host can be in: those whose Host line names it plainly,
// and every other Host or Match line (checked one by one, in file order, as before).
interface FileIndex {
  /** For each item, the index of the next Host or Match line after it (or the end of the list). */
  ends: Int32Array;
  /** Index of the first Host or Match line: the items before it apply to every host. */
  first: number;
  /** Lower-cased plain host name -> the indexes of the Host lines that are all plain names and name it. */
  byName: Map<string, number[]>;
  /** Indexes of the other Host lines (wildcards, negations) and of every Match line. */
  others: number[];
}
const fileIndexes = new WeakMap<ConfigItem[], FileIndex>();

/** The index of a parsed file's items (made on first use, kept with them). */
function fileIndex(items: ConfigItem[]): FileIndex {
  let ix = fileIndexes.get(items);
  if (ix) return ix;
  const ends = new Int32Array(items.length);
  let next = items.length;
  for (let i = items.length - 1; i >= 0; i--) {
    ends[i] = next;
    const k = items[i]!.kind;
    if (k === 'host' || k === 'match') next = i;
  }
  const byName = new Map<string, number[]>();
  const others: number[] = [];
  items.forEach((item, i) => {
    if (item.kind === 'match' || (item.kind === 'host' && item.patterns.some((p) => p.startsWith('!') || /[*?]/.test(p)))) others.push(i);
    else if (item.kind === 'host') {
      for (const name of new Set(item.patterns.map((p) => p.toLowerCase()))) {
        const list = byName.get(name);
        if (list) list.push(i);
        else byName.set(name, [i]);
      }
    }
  });
  ix = { ends, first: next, byName, others };
  fileIndexes.set(items, ix);
  return ix;
}

/** Two ascending lists of indexes merged into one, ascending. */
function mergeAscending(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) out.push(j >= b.length || (i < a.length && a[i]! < b[j]!) ? a[i++]! : b[j++]!);
  return out;
}

/** What the config says about one host, after the first-value-wins pass. */
export interface ResolvedSshConfig {
  /** The name asked for (ssh's "original host", `%n`). */
  alias: string;
  /** HostName with `%h` expanded; the alias when unset. */
  hostname: string;
  port?: number;
  user?: string;
  /** Tilde and tokens not yet expanded (they need the final user and port): see expandPath. */
  identityFiles: string[];
  identitiesOnly?: boolean;
  identityAgent?: string;
  /** `none` is kept as undefined. */
  proxyJump?: string;
  proxyCommand?: string;
  userKnownHostsFiles?: string[];
  globalKnownHostsFiles?: string[];
  strictHostKeyChecking?: 'yes' | 'no' | 'accept-new' | 'ask';
  hashKnownHosts?: boolean;
  hostKeyAlias?: string;
  connectTimeout?: number;
  serverAliveInterval?: number;
  serverAliveCountMax?: number;
  /** Lines the resolver could not honour (unsupported Match criteria...): shown to the user, never fatal. */
  warnings: string[];
}

/** Context a `Match` line may look at. */
export interface MatchContext {
  localUser: string;
}

/** Resolves the options for `alias` from one or more parsed files, in order (user file first, then system). */
export function resolveSshConfig(configs: ParsedSshConfig[], alias: string, ctx: MatchContext = { localUser: userInfo().username }): ResolvedSshConfig {
  const got = new Map<string, ConfigOption>();
  const identityFiles: string[] = [];
  const warnings: string[] = [];
  const host = alias.toLowerCase();

  const currentHostname = (): string => {
    const h = got.get('hostname');
    return h ? expandHostname(h.args[0] ?? alias, alias) : alias;
  };

  const evalMatch = (item: { criteria: string[]; file: string; line: number }): boolean => {
    const c = item.criteria;
    let i = 0;
    let result = true;
    while (i < c.length) {
      let crit = c[i]!.toLowerCase();
      let negate = false;
      if (crit.startsWith('!')) {
        negate = true;
        crit = crit.slice(1);
      }
      if (crit === 'all') {
        i++;
        if (negate) result = false;
        continue;
      }
      const arg = c[i + 1];
      if (arg === undefined) {
        warnings.push(`${item.file}:${item.line}: Match ${crit} without an argument; block ignored`);
        return false;
      }
      const list = arg.split(',');
      let r: boolean;
      switch (crit) {
        case 'host':
          r = matchPatternList(currentHostname(), list);
          break;
        case 'originalhost':
          r = matchPatternList(host, list);
          break;
        case 'user': {
          const u = got.get('user')?.args[0];
          r = u !== undefined && matchPatternList(u, list);
          break;
        }
        case 'localuser':
          r = matchPatternList(ctx.localUser, list);
          break;
        default:
          // `exec` would run a local command and `canonical`/`final` need a second pass: not done.
          warnings.push(`${item.file}:${item.line}: Match ${crit} is not supported by natchain; block ignored`);
          return false;
      }
      if (negate) r = !r;
      if (!r) result = false;
      i += 2;
    }
    return result;
  };

  /** Applies the options and Includes of items [from, to) (a block that is active). */
  const take = (items: ConfigItem[], from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const item = items[i]!;
      if (item.kind === 'include') {
        for (const f of item.files) walk(f.items);
      } else if (item.kind === 'option') {
        const o = item.option;
        if (o.key === 'identityfile') {
          if (o.args[0] !== undefined) identityFiles.push(o.args[0]);
        } else if (!got.has(o.key)) {
          got.set(o.key, o);
        }
      }
    }
  };
  // One pass over a file in order, visiting only the blocks that can apply: an inactive block's
  // options (and Includes) count for nothing, and a Host line of plain names applies only to them.
  const walk = (items: ConfigItem[]): void => {
    const ix = fileIndex(items);
    take(items, 0, ix.first);
    for (const i of mergeAscending(ix.byName.get(host) ?? [], ix.others)) {
      const item = items[i]!;
      const active = item.kind === 'host' ? matchPatternList(host, item.patterns) : item.kind === 'match' && evalMatch(item);
      if (active) take(items, i + 1, ix.ends[i]!);
    }
  };
  for (const cfg of configs) walk(cfg.items);

  const out: ResolvedSshConfig = { alias, hostname: currentHostname(), identityFiles, warnings };
  const str = (k: string): string | undefined => got.get(k)?.args[0];
  const num = (k: string): number | undefined => {
    const o = got.get(k);
    if (!o) return undefined;
    const n = Number(o.args[0]);
    if (!Number.isInteger(n) || n < 0) throw configError(o.file, o.line, `${o.key}: bad number "${o.args[0]}"`);
    return n;
  };
  const yesno = (k: string): boolean | undefined => {
    const v = str(k)?.toLowerCase();
    return v === undefined ? undefined : v === 'yes' || v === 'true';
  };

  const port = num('port');
  if (port !== undefined) {
    if (port < 1 || port > 65535) throw configError(got.get('port')!.file, got.get('port')!.line, `bad port ${port}`);
    out.port = port;
  }
  const user = str('user');
  if (user !== undefined) out.user = user;
  const pj = str('proxyjump');
  const pc = got.get('proxycommand')?.raw;
  // ProxyJump and ProxyCommand exclude each other; whichever came first in the file wins.
  const pjLine = got.get('proxyjump');
  const pcLine = got.get('proxycommand');
  const jumpFirst = pjLine && (!pcLine || order(pjLine, pcLine, configs) < 0);
  if (jumpFirst) {
    if (pj && pj.toLowerCase() !== 'none') out.proxyJump = got.get('proxyjump')!.args.join(',');
  } else if (pc && pc.toLowerCase() !== 'none') {
    out.proxyCommand = pc;
  }
  const ukh = got.get('userknownhostsfile');
  if (ukh) out.userKnownHostsFiles = ukh.args.filter((a) => a.toLowerCase() !== 'none');
  const gkh = got.get('globalknownhostsfile');
  if (gkh) out.globalKnownHostsFiles = gkh.args.filter((a) => a.toLowerCase() !== 'none');
  const shk = str('stricthostkeychecking')?.toLowerCase();
  if (shk !== undefined) {
    out.strictHostKeyChecking =
      shk === 'yes' || shk === 'true' ? 'yes' : shk === 'accept-new' ? 'accept-new' : shk === 'no' || shk === 'off' || shk === 'false' ? 'no' : 'ask';
  }
  const hkh = yesno('hashknownhosts');
  if (hkh !== undefined) out.hashKnownHosts = hkh;
  const io = yesno('identitiesonly');
  if (io !== undefined) out.identitiesOnly = io;
  const ia = str('identityagent');
  if (ia !== undefined) out.identityAgent = ia;
  const hka = str('hostkeyalias');
  if (hka !== undefined) out.hostKeyAlias = hka;
  const ct = num('connecttimeout');
  if (ct !== undefined) out.connectTimeout = ct;
  const sai = num('serveraliveinterval');
  if (sai !== undefined) out.serverAliveInterval = sai;
  const sac = num('serveralivecountmax');
  if (sac !== undefined) out.serverAliveCountMax = sac;
  return out;
}

// Position of an option across the list of files (and their includes), to tell which came first.
function order(a: ConfigOption, b: ConfigOption, configs: ParsedSshConfig[]): number {
  let i = 0;
  let ia = -1;
  let ib = -1;
  const walk = (items: ConfigItem[]): void => {
    for (const it of items) {
      if (it.kind === 'option') {
        if (it.option === a) ia = i;
        if (it.option === b) ib = i;
        i++;
      } else if (it.kind === 'include') for (const f of it.files) walk(f.items);
    }
  };
  for (const c of configs) walk(c.items);
  return ia - ib;
}

function expandHostname(value: string, alias: string): string {
  return value.replace(/%([%h])/g, (_m, t: string) => (t === '%' ? '%' : alias));
}

/** Values the `%` tokens of paths and commands expand to. */
export interface TokenValues {
  /** %h: the remote host name (after HostName). */
  host: string;
  /** %n: the original alias. */
  alias: string;
  /** %p */
  port: number;
  /** %r: the remote user. */
  remoteUser: string;
  /** %u: the local user. */
  localUser: string;
  /** %d: the local home directory. */
  home: string;
}

/** Expands ssh_config `%` tokens (%h %n %p %r %u %d %l %%); an unknown token is an error, as in OpenSSH. */
export function expandTokens(value: string, t: TokenValues): string {
  return value.replace(/%(.)/g, (_m, c: string) => {
    switch (c) {
      case '%':
        return '%';
      case 'h':
        return t.host;
      case 'n':
        return t.alias;
      case 'p':
        return String(t.port);
      case 'r':
        return t.remoteUser;
      case 'u':
        return t.localUser;
      case 'd':
        return t.home;
      case 'l':
        return localHostname().split('.')[0] ?? '';
      default:
        throw new NatchainError('SSH', `unsupported token %${c} in ssh_config value "${value}"`);
    }
  });
}

/** Expands a leading `~` (or `~/`) to `home` and then the `%` tokens: the IdentityFile/UserKnownHostsFile rules. */
export function expandPath(value: string, t: TokenValues): string {
  const v = value === '~' ? t.home : value.startsWith('~/') ? path.join(t.home, value.slice(2)) : value;
  return expandTokens(v, t);
}

/** Which files to read: the `-F` file alone if given, else ~/.ssh/config (when present) then /etc/ssh/ssh_config. */
export interface LoadSshConfigOptions {
  file?: string;
  home?: string;
  /** The system-wide file; default /etc/ssh/ssh_config; null skips it. */
  systemFile?: string | null;
}

/** Reads and parses the ssh_config files OpenSSH would read, Includes expanded. */
export function loadSshConfig(opts: LoadSshConfigOptions = {}): ParsedSshConfig[] {
  const home = opts.home ?? homedir();
  const userDir = path.join(home, '.ssh');
  const makeInclude =
    (baseDir: string): IncludeReader =>
    (pattern) => {
      let p = pattern.startsWith('~/') ? path.join(home, pattern.slice(2)) : pattern;
      if (!path.isAbsolute(p)) p = path.join(baseDir, p);
      return globFiles(p).map((file) => ({ file, text: readFileSync(file, 'utf8') }));
    };
  const read = (file: string, baseDir: string): ParsedSshConfig => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new NatchainError('FILE_NOT_FOUND', `cannot read ssh config ${file}: ${ioReason(e)}`);
    }
    return parseSshConfig(text, file, makeInclude(baseDir));
  };
  // Relative Includes resolve against ~/.ssh for user files (including -F) and /etc/ssh for the system file.
  if (opts.file) return [read(opts.file, userDir)];
  const out: ParsedSshConfig[] = [];
  const userFile = path.join(userDir, 'config');
  if (existsSync(userFile)) out.push(read(userFile, userDir));
  const sys = opts.systemFile === undefined ? '/etc/ssh/ssh_config' : opts.systemFile;
  if (sys && existsSync(sys)) out.push(read(sys, path.dirname(sys)));
  return out;
}

// Glob in the last path segment only (what ssh_config Includes use in practice), sorted like glob(3).
function globFiles(p: string): string[] {
  const dir = path.dirname(p);
  const base = path.basename(p);
  if (!/[*?]/.test(base)) return existsSync(p) ? [p] : [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const re = new RegExp('^' + base.split('').map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('') + '$', 's');
  return names
    .filter((n) => re.test(n) && !n.startsWith('.'))
    .sort()
    .map((n) => path.join(dir, n))
    .filter((f) => statSync(f).isFile());
}
