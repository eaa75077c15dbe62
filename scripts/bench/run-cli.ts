// Runs the compiled CLI the way users do, without blocking this process (a simulated fleet may be
// answering in it), and returns what the natchain process cost (measure.mjs).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'dist/cli/main.js');
const MEASURE = path.join(ROOT, 'scripts/bench/measure.mjs');

/** What one natchain process cost. */
export interface Cost {
  wallMs: number;
  cpuMs: number;
  maxRssKiB: number;
  /** Up to the first outgoing connection: module loading, reading and solving. */
  startup: { wallMs: number; cpuMs: number; eldMaxMs: number } | null;
  /** Longest event-loop stall after the first connection. */
  eldMaxMs: number;
  eldP99Ms: number;
}

/** The outcome of one natchain run. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  cost: Cost;
}

/** Runs `natchain <args>` (dist/cli/main.js) with measure.mjs preloaded. */
export function runNatchain(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'natchain-measure-'));
  const file = path.join(dir, 'cost.json');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', MEASURE, MAIN, ...args], {
      env: { ...process.env, NO_COLOR: '1', CI: 'true', ...env, NATCHAIN_MEASURE: file },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        const cost = JSON.parse(readFileSync(file, 'utf8')) as Cost;
        resolve({ code: code ?? -1, stdout, stderr, cost });
      } catch (e) {
        reject(new Error(`natchain ${args.join(' ')}: no measurement (${(e as Error).message}); exit ${code}\n${stderr}`));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
