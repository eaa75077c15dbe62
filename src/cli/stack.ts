// The CLI runs bundled (scripts/build.mjs): a trace's frames point into dist/cli chunks. Node would
// map them itself under --enable-source-maps, but that reads every chunk's map at start-up; this
// reads the maps of the frames of the one trace that needs it, on the internal-error path only.
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

const FRAME = /(file:\/\/[^\s()]+?\.js):(\d+):(\d+)/g;

/** `stack` with every frame that has a source map beside its file shown at its source file, line and column. */
export function sourceMappedStack(stack: string): string {
  const maps = new Map<string, SourceMap | undefined>();
  return stack.replace(FRAME, (frame, url: string, line: string, col: string) => {
    if (!maps.has(url)) maps.set(url, readMap(url));
    const entry = maps.get(url)?.findEntry(Number(line) - 1, Number(col) - 1);
    if (!entry || !('originalSource' in entry)) return frame;
    const source = fileURLToPath(new URL(entry.originalSource, url));
    return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}

function readMap(url: string): SourceMap | undefined {
  try {
    return new SourceMap(JSON.parse(readFileSync(new URL(url + '.map'), 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
  } catch {
    return undefined; // no map (the unbundled build, tsx): the frame stays as it is
  }
}
