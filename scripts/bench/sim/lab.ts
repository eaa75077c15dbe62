// A simulated fleet ready for the CLI: the generated scale topology (scripts/bench/generate.mjs)
// with N gateways, its SSH servers, a client key, ssh_config (one Host block per gateway, as the
// lab writes) and known_hosts (one line per gateway), in a temporary directory.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { compile } from '../../../src/compile.js';
import { generateTopology } from '../generate.mjs';
import { startSimFleet, type SimFleet } from './server.js';

/** A simulated fleet and the files the CLI needs to reach it. */
export interface SimLab {
  dir: string;
  fleet: SimFleet;
  topologyFile: string;
  sshConfig: string;
  /** A fresh state directory (journal) per call. */
  stateDir(label: string): string;
  /** The remote options every command takes. */
  remoteArgs(label: string): string[];
  close(): Promise<void>;
}

/**
 * Starts N simulated gateways (half iptables, half nftables) with `forwardsPerGateway` x N forwards;
 * or, with `topologyText`, the gateways of that topology (n and the rest are then unused).
 */
export async function startSimLab(n: number, forwardsPerGateway = 10, seed = 1, topologyText?: string): Promise<SimLab> {
  const dir = mkdtempSync(path.join(tmpdir(), 'natchain-sim-'));
  const topologyFile = path.join(dir, 'fleet.yaml');
  writeFileSync(topologyFile, topologyText ?? generateTopology(n, n * forwardsPerGateway, seed));
  // The gateways' interfaces come from the topology itself: the facts a gateway reports must match it.
  const { topology } = compile(readFileSync(topologyFile, 'utf8'), topologyFile);
  const names = topology.gateways.map((g) => g.name);
  const key = ssh2.utils.generateKeyPairSync('ed25519');
  const identity = path.join(dir, 'id_ed25519');
  writeFileSync(identity, key.private, { mode: 0o600 });
  const fleet = await startSimFleet(
    topology.gateways.map((g) => ({ name: g.name, backend: g.backend, interfaces: g.interfaces.map((i) => ({ name: i.name, address: i.address, prefix: i.prefix })) })),
    key.public,
  );
  const knownHosts = path.join(dir, 'known_hosts');
  writeFileSync(knownHosts, names.map((g) => `${g} ${fleet.hostKeyPub}\n`).join(''));
  const sshConfig = path.join(dir, 'ssh_config');
  let cfg = '# simulated fleet\n';
  for (const g of names) cfg += `\nHost ${g}\n  HostName 127.0.0.1\n  Port ${fleet.ports.get(g)}\n  HostKeyAlias ${g}\n`;
  cfg += `\nHost *\n  User root\n  IdentityFile ${identity}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${knownHosts}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n`;
  writeFileSync(sshConfig, cfg);
  let states = 0;
  const stateDir = (label: string) => path.join(dir, `state-${label}-${states++}`);
  return {
    dir,
    fleet,
    topologyFile,
    sshConfig,
    stateDir,
    remoteArgs: (label) => ['-F', sshConfig, '--state-dir', stateDir(label)],
    close: async () => {
      await fleet.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
