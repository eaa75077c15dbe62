/** Writes man/natchain.1 and the cached top-level help from the command definitions (run after changing a command, an option or its help). */
import { readFileSync, writeFileSync } from 'node:fs';
import { helpTextModule, topLevelHelp } from '../src/cli/help-cache.js';
import { manPage } from '../src/cli/manpage.js';
import { buildProgram, version } from '../src/cli/program.js';

const cliDoc = readFileSync(new URL('../docs/cli.md', import.meta.url), 'utf8');
writeFileSync(new URL('../man/natchain.1', import.meta.url), manPage(buildProgram(), version(), { cliDoc }));
writeFileSync(new URL('../src/cli/help-text.ts', import.meta.url), helpTextModule(topLevelHelp(buildProgram())));
