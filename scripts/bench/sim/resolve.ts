// What the gateway-side awk of src/rollout/remote-scripts.ts does, for the simulated gateways:
// RESOLVE_AWK turns an iptables template (src/rollout/template.ts: @declare, @drop, @insert,
// @remove) into iptables-restore input against a dump; SAME_AWK says whether two dumps hold the
// same natchain state.

/** Resolves an iptables template against `snapshot` (an iptables-save dump); nft text passes through. */
export function resolveTemplate(backend: string, template: string, snapshot: string): string {
  if (backend !== 'iptables') return template;
  const have = new Set<string>();
  const jumps = new Map<string, string[]>();
  const jumped = new Set<string>();
  const ahead = new Map<string, number>();
  let t = '';
  for (const l of snapshot.split('\n')) {
    if (l.startsWith('*')) {
      t = l.slice(1);
      continue;
    }
    if (/^:NATCHAIN-/.test(l)) {
      have.add(`${t} ${l.slice(1).split(' ')[0]}`);
      continue;
    }
    if (!l.startsWith('-A ')) continue;
    const w = l.split(' ');
    if (/^NATCHAIN-/.test(w[1]!)) {
      have.add(`${t} ${w[1]}`);
      continue;
    }
    const m = / -[jg] (NATCHAIN-[A-Z]+)( |$)/.exec(l);
    if (m) {
      const k = `${t} ${w[1]} ${m[1]}`;
      jumps.set(k, [...(jumps.get(k) ?? []), l.slice(4 + w[1]!.length)]);
      have.add(`${t} ${m[1]}`);
      jumped.add(`${t} ${w[1]}`);
    } else if (!jumped.has(`${t} ${w[1]}`)) ahead.set(`${t} ${w[1]}`, (ahead.get(`${t} ${w[1]}`) ?? 0) + 1);
  }
  const out: string[] = [];
  const keep = new Map<string, number>();
  let buf: string[] = [];
  let touched = false;
  t = '';
  const emit = (s: string) => {
    buf.push(s);
    touched = true;
  };
  for (const line of template.replace(/\n$/, '').split('\n')) {
    const f = line.split(' ');
    if (line.startsWith('*')) {
      t = line.slice(1);
      buf = [line];
      touched = false;
    } else if (line === 'COMMIT') {
      if (touched) out.push(...buf, 'COMMIT');
      buf = [];
      t = '';
    } else if (f[0] === '@declare') {
      if (f[2] === '1' || have.has(`${t} ${f[1]}`)) emit(`:${f[1]} - [0:0]`);
    } else if (f[0] === '@drop') {
      const k = `${t} ${f[1]} ${f[2]}`;
      const spec = f.slice(4).join(' ');
      keep.set(k, 0);
      (jumps.get(k) ?? []).forEach((j, i) => {
        if (f[3] === '1' && i === 0 && j === spec && !ahead.get(`${t} ${f[1]}`)) keep.set(k, 1);
        else emit(`-D ${f[1]} ${j}`);
      });
    } else if (f[0] === '@insert') {
      if (!keep.get(`${t} ${f[1]} ${f[2]}`)) emit(`-I ${f[1]} 1 ${f.slice(3).join(' ')}`);
    } else if (f[0] === '@remove') {
      if (have.has(`${t} ${f[1]}`)) emit(`-X ${f[1]}`);
    } else if (t !== '') emit(line);
    else out.push(line);
  }
  return out.join('\n') + '\n';
}

/** Whether two dumps hold the same natchain state (iptables: NATCHAIN lines per table; nft: the table), counters left out. */
export function sameState(backend: string, a: string, b: string): boolean {
  const norm = (dump: string): string => {
    let t = '';
    let s = '';
    for (let l of dump.replace(/\n+$/, '').split('\n')) {
      if (dump === '') break;
      if (backend === 'iptables') {
        if (l.startsWith('*')) {
          t = l;
          continue;
        }
        if (!l.includes('NATCHAIN-')) continue;
        l = `${t} ${l.replace(/\[[0-9]+:[0-9]+\]/g, '')}`;
      } else l = l.replace(/packets [0-9]+ bytes [0-9]+/g, '');
      s += l + '\n';
    }
    return s;
  };
  return norm(a) === norm(b);
}
