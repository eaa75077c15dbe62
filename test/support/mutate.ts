// Seeded mutations of topology text, for the loader's fuzz tests.

const SNIPPETS = [
  '\n', ' ', '  ', '\t', ':', ': ', '- ', '-', '#', '"', "'", '[', ']', '{', '}', ',', '&a ', '*a', '!!str ', '? ', '|', '>',
  '---\n', '...\n', '\\', '\r', '\r\n', '\u001b[31m', '\u202e', '\u0000', '0', '65536', '99999999999999999999999', '-1', '1.5',
  '0x1f', 'true', 'null', '~', '10.0.0.300', '10.0.0.0/33', '1.2.3.4:0', 'toString', '__proto__', 'constructor', 'hasOwnProperty',
  'é', '\ud83d\ude00', 'version: 2\n', 'defaults: { backend: pf }\n', '[[[[[[[[', '- - - - - - ', '{a: {a: {a: ',
];

/** One to three random edits: delete, insert, duplicate, swap or re-indent lines, replace a token, truncate, or raw bytes. */
export function mutate(input: Buffer, rand: () => number): Buffer {
  let text = input.toString('utf8');
  const edits = 1 + Math.floor(rand() * 3);
  for (let k = 0; k < edits; k++) {
    const at = Math.floor(rand() * (text.length + 1));
    const lines = text.split('\n');
    const li = Math.floor(rand() * lines.length);
    switch (Math.floor(rand() * 9)) {
      case 0:
        text = text.slice(0, at) + text.slice(at + 1 + Math.floor(rand() * 12));
        break;
      case 1:
      case 2:
        text = text.slice(0, at) + pick(SNIPPETS, rand) + text.slice(at);
        break;
      case 3:
        lines.splice(li, 0, lines[li]!);
        text = lines.join('\n');
        break;
      case 4: {
        const lj = Math.floor(rand() * lines.length);
        [lines[li], lines[lj]] = [lines[lj]!, lines[li]!];
        text = lines.join('\n');
        break;
      }
      case 5:
        lines[li] = rand() < 0.5 ? ' '.repeat(1 + Math.floor(rand() * 3)) + lines[li] : lines[li]!.replace(/^ {1,2}/, '');
        text = lines.join('\n');
        break;
      case 6:
        text = text.replace(/[A-Za-z0-9.-]+/g, (m) => (rand() < 0.03 ? pick(SNIPPETS, rand).trim() || m : m));
        break;
      case 7:
        text = text.slice(0, at);
        break;
      default: {
        // Raw bytes: Latin-1, lone UTF-8 continuation bytes, NUL.
        const b = Buffer.from(text, 'utf8');
        const i = Math.floor(rand() * (b.length + 1));
        return Buffer.concat([b.subarray(0, i), Buffer.from([pick([0xe9, 0x80, 0xff, 0x00, 0xc3], rand)]), b.subarray(i)]);
      }
    }
  }
  return Buffer.from(text, 'utf8');
}

function pick<T>(list: readonly T[], rand: () => number): T {
  return list[Math.floor(rand() * list.length)]!;
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
