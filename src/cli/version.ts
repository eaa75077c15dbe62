import { readFileSync } from 'node:fs';

/** natchain's version, read from its package.json (the one place it is written). */
export function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
