import { readFileSync, statSync } from 'node:fs';
import { ioReason, NatchainError } from '../errors.js';
import { appendKnownHostEntry, parseKnownHosts, type KnownHostEntry } from './knownhosts.js';

// known_hosts files parsed once per run and indexed by host name, so that checking the key of
// each of N gateways costs a map lookup instead of re-reading and scanning N lines (quadratic in
// the fleet). A file is parsed again only when it changes on disk (a stat per lookup tells), and
// keys this run records are added to the parsed form as they are written.

interface ParsedFile {
  /** inode, size and mtime when parsed: a different value means the file changed. */
  sig: string;
  /** Plain entries whose host field is a list of literal names, by lower-cased name. */
  byName: Map<string, KnownHostEntry[]>;
  /** Everything else (hashed, wildcard or negated host fields, markers): checked one by one. */
  scan: KnownHostEntry[];
}

const EMPTY: ParsedFile = { sig: 'missing', byName: new Map(), scan: [] };

/** The known_hosts files of one run, parsed once and indexed. */
export class KnownHostsStore {
  private readonly files = new Map<string, ParsedFile>();

  /**
   * The entries of `files` that may concern `name` (plus every @revoked line, which applies to any
   * host), in file and line order: the input checkHostKey and preferredHostKeyAlgorithms expect.
   */
  lookup(files: string[], name: string): KnownHostEntry[] {
    const out: KnownHostEntry[] = [];
    const key = name.toLowerCase();
    for (const f of files) {
      const p = this.parsed(f);
      const hits = p.byName.get(key);
      if (!hits) {
        out.push(...p.scan);
        continue;
      }
      out.push(...[...hits, ...p.scan].sort((a, b) => a.line - b.line));
    }
    return out;
  }

  /** Appends a host key to `file` (see appendKnownHost) and to the parsed form; returns the line written. */
  record(file: string, name: string, key: Buffer, hashed: boolean): number {
    const cached = this.parsed(file);
    const entry = appendKnownHostEntry(file, name, key, hashed);
    // Our own append is the only change when the file was current: extend the index instead of re-parsing.
    if (cached !== EMPTY && this.files.get(file) === cached && cached.sig === entry.before) {
      addToIndex(cached, entry.entry);
      cached.sig = signature(file) ?? 'missing';
    }
    return entry.entry.line;
  }

  private parsed(file: string): ParsedFile {
    const sig = signature(file);
    if (sig === undefined) return EMPTY;
    const cached = this.files.get(file);
    if (cached?.sig === sig) return cached;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY;
      throw new NatchainError('SSH', `cannot read known_hosts file ${file}: ${ioReason(e)}`);
    }
    const p = index(parseKnownHosts(text, file), sig);
    this.files.set(file, p);
    return p;
  }
}

/** inode, size and mtime of a file; undefined when it does not exist. */
function signature(file: string): string | undefined {
  try {
    const st = statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new NatchainError('SSH', `cannot read known_hosts file ${file}: ${ioReason(e)}`);
  }
}

function index(entries: KnownHostEntry[], sig: string): ParsedFile {
  const p: ParsedFile = { sig, byName: new Map(), scan: [] };
  for (const e of entries) addToIndex(p, e);
  return p;
}

function addToIndex(p: ParsedFile, e: KnownHostEntry): void {
  const names = e.hosts.split(',');
  if (e.marker || e.hosts.startsWith('|') || names.some((n) => /[*?!]/.test(n))) {
    p.scan.push(e);
    return;
  }
  for (const n of new Set(names.map((x) => x.toLowerCase()))) {
    const list = p.byName.get(n);
    if (list) list.push(e);
    else p.byName.set(n, [e]);
  }
}
