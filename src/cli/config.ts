// One place for defaults: the settings a flag, an environment variable, the project's config file
// (./natchain.config.yaml) and the user's ($XDG_CONFIG_HOME/natchain/config.yaml) can give, in that
// order of precedence, applied to whichever command runs before its action (docs/cli.md).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import jsyaml from 'js-yaml';
import { ioReason, NatchainError } from '../errors.js';
import { quote } from '../escape.js';
import { suggest } from '../suggest.js';

/** A setting: its key in a config file (= the option's attribute name), its flag and its environment variable. */
interface Setting {
  key: string;
  flag: string;
  env: string;
  /** A path (relative ones in a file are relative to that file) or a whole number in a range. */
  kind: { path: true } | { min: number; max: number; unit: string };
}

/** Every setting, in the order docs/cli.md lists them. */
export const SETTINGS: readonly Setting[] = [
  { key: 'sshConfig', flag: '--ssh-config', env: 'NATCHAIN_SSH_CONFIG', kind: { path: true } },
  { key: 'stateDir', flag: '--state-dir', env: 'NATCHAIN_STATE_DIR', kind: { path: true } },
  { key: 'concurrency', flag: '--concurrency', env: 'NATCHAIN_CONCURRENCY', kind: { min: 1, max: 256, unit: 'a whole number' } },
  { key: 'confirmTimeout', flag: '--confirm-timeout', env: 'NATCHAIN_CONFIRM_TIMEOUT', kind: { min: 2, max: 86400, unit: 'whole seconds' } },
];

/** A config file's settings, validated; values as the flag would give them (strings). */
export type Config = Map<string, string>;

/** The config files, most important first: the project's, then the user's. */
export function configFiles(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string[] {
  const xdg = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return [resolve(cwd, 'natchain.config.yaml'), join(xdg, 'natchain', 'config.yaml')];
}

/**
 * Gives every setting option of `cmd` that the command line left unset its value from the environment
 * or a config file (sources 'env' and 'config'); a bad value there is a CONFIG error naming where it is.
 */
export function applySettings(cmd: Command, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): void {
  const keys = new Set(cmd.options.map((o) => o.attributeName()));
  const wanted = SETTINGS.filter((s) => keys.has(s.key) && cmd.getOptionValueSource(s.key) !== 'cli');
  if (!wanted.length) return;
  let files: { file: string; config: Config }[] | undefined;
  for (const s of wanted) {
    const fromEnv = env[s.env];
    if (fromEnv) {
      cmd.setOptionValueWithSource(s.key, checkValue(s, fromEnv, `environment variable ${s.env}`), 'env');
      continue;
    }
    files ??= configFiles(env, cwd).filter((f) => existsSync(f)).map((file) => ({ file, config: readConfig(file) }));
    const hit = files.find((f) => f.config.has(s.key));
    if (hit) cmd.setOptionValueWithSource(s.key, hit.config.get(s.key)!, 'config');
  }
}

/** Reads and validates one config file: a YAML map of known settings. */
export function readConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new NatchainError('CONFIG', `cannot read the config file ${file}: ${ioReason(e)}`);
  }
  return parseConfig(text, file);
}

/** Validates a config file's text; every problem at once, each as `file: key: message`. */
export function parseConfig(text: string, file: string): Config {
  const doc = parseYaml(text, file);
  const config: Config = new Map();
  if (doc === null || doc === undefined) return config;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new NatchainError('CONFIG', `${file}: a config file is a map of settings (${SETTINGS.map((s) => s.key).join(', ')})`);
  const problems: string[] = [];
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const s = SETTINGS.find((x) => x.key === key);
    if (!s) {
      problems.push(`${file}: unknown setting ${quote(key)}${suggest(key, SETTINGS.map((x) => x.key))} (settings: ${SETTINGS.map((x) => x.key).join(', ')})`);
      continue;
    }
    try {
      const raw = typeof value === 'number' || typeof value === 'string' ? String(value) : undefined;
      if (raw === undefined) throw new NatchainError('CONFIG', `${s.key} must be ${'path' in s.kind ? 'a path' : s.kind.unit}, not ${JSON.stringify(value)}`);
      const checked = checkValue(s, raw, s.key);
      config.set(key, 'path' in s.kind ? resolve(dirname(file), expandHome(checked)) : checked);
    } catch (e) {
      if (!(e instanceof NatchainError)) throw e;
      problems.push(`${file}: ${e.message}`);
    }
  }
  if (problems.length === 1) throw new NatchainError('CONFIG', problems[0]!);
  if (problems.length) throw new NatchainError('CONFIG', `${problems.length} problems in the config file ${file}`, problems);
  return config;
}

/** A setting's value checked: a non-empty path, or a whole number in the setting's range. */
function checkValue(s: Setting, value: string, where: string): string {
  if ('path' in s.kind) {
    if (!value.trim()) throw new NatchainError('CONFIG', `${where} must be a path, not an empty string`);
    return value;
  }
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || n < s.kind.min || n > s.kind.max) {
    throw new NatchainError('CONFIG', `${where} must be ${s.kind.unit} from ${s.kind.min} to ${s.kind.max}, not ${quote(value)}`);
  }
  return String(n);
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

function parseYaml(text: string, file: string): unknown {
  try {
    return jsyaml.load(text, { filename: file, schema: jsyaml.CORE_SCHEMA });
  } catch (e) {
    const mark = (e as { mark?: { line: number; column: number } }).mark;
    const at = mark ? `:${mark.line + 1}:${mark.column + 1}` : '';
    throw new NatchainError('CONFIG', `${file}${at}: not valid YAML: ${(e as { reason?: string }).reason ?? (e as Error).message}`);
  }
}
