// Text quoted from input (names, addresses, file names, parser messages) reaches terminals and
// logs. A newline or carriage return in it could forge a diagnostic line, an ANSI escape could
// recolour or rewrite the terminal, a bidi override could reorder what is shown. Every message
// that quotes input goes through this module, and the diagnostic formatter applies it once more
// to the whole line, so nothing raw gets through even where a message forgot.

// C0 controls, DEL, C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates, BOM.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

const NAMED: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, {
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\u001b': '\\e',
});

function escapeChar(ch: string): string {
  return NAMED[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** `text` with every control, separator and bidi character written as a visible escape (`\n`, `\e`, `\u202e`). */
export function escapeControl(text: string): string {
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(text) ? text.replace(UNSAFE, escapeChar) : text;
}

/** Input text in double quotes, ready to put in a message: `"gw-a"`, `"a\nb"`; long text is cut to `max` characters. */
export function quote(text: unknown, max = 80): string {
  let s = typeof text === 'string' ? text : String(text);
  if (s.length > max) s = s.slice(0, max) + '...';
  return `"${escapeControl(s).replace(/"/g, '\\"')}"`;
}
