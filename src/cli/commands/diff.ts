import type { Command } from 'commander';
import { lazy } from '../lazy.js';

/** `natchain diff`: what a topology change does, from the model down to each gateway's rules; exit 0 same, 1 different, 2 error. */
export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('show what changing a topology would do: model, chains and the rules on every gateway (exit 0 same, 1 different, 2 error)')
    .argument('<old>', 'the topology before: a file, or REV:path read with git (HEAD~1:topologies/x.yaml)')
    .argument('<new>', 'the topology after: a file, or REV:path')
    .option('--json', 'print the diff as one JSON document (shape in docs/cli.md)')
    .option('-U, --context <lines>', 'lines of context around each ruleset change', '3')
    .option('-q, --quiet', 'print only the summary line (and the warnings)')
    .option('--strict', 'make the new side\'s warnings (a site-to-site chain across a public network) errors: exit 2')
    .addHelpText(
      'after',
      `
Offline: reads the two topologies and the port lock beside each (x.lock for x.yaml; for REV:path,
the lock at the same revision), solves and renders both, and compares them. Nothing is written
and no gateway is contacted. A path that exists as a file is a file; otherwise REV:path is read
with \`git show\` in the repository that holds it (REV:./path is relative to the current directory,
REV:path to the repository's top, as in git).

Warnings mark what a reviewer must not miss: a hop port that moves (it breaks clients that use
it), a forward that becomes unreachable, a gateway whose backend changes, a site-to-site chain
that starts crossing a public network (--strict: any such chain on the new side is an error).

Exit status, like diff(1): 0 no difference, 1 differences, 2 trouble (an invalid topology is
reported as file:line:col errors); 64 bad usage, as for every command.

Examples:
  natchain diff HEAD~1:topologies/seed-vpn.yaml topologies/seed-vpn.yaml
  natchain diff main:topologies/site.yaml topologies/site.yaml --quiet
  natchain diff old.yaml new.yaml --json | jq '.flags[].message'`,
    )
    .action(lazy(() => import('../actions/diff.js'), 'run'));
}
