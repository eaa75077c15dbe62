import { execFile } from 'node:child_process';
import { NatchainError } from '../errors.js';

/**
 * Renders DOT to SVG with Graphviz's `dot` (the one effect in graph/: it runs a program).
 * Run without a shell; the DOT text goes through stdin, never through argv.
 */
export function dotToSvg(dot: string, program = 'dot'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(program, ['-Tsvg'], { maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        missing
          ? new NatchainError('ENVIRONMENT', `cannot render SVG: the Graphviz program "${program}" is not installed`, [
              'install Graphviz (Debian/Ubuntu: apt-get install graphviz), or use --format dot and render it elsewhere',
            ])
          : new NatchainError('INTERNAL', `${program} -Tsvg failed`, String(stderr).trim().split('\n')),
      );
    });
    child.stdin?.on('error', () => {}); // a missing program closes stdin early; the callback reports it
    child.stdin?.end(dot);
  });
}
