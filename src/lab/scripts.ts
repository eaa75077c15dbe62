import { dirname, join } from 'node:path';
import { NatchainError } from '../errors.js';
import type { LabPlan, PlannedGateway, PlannedHost, PlannedNode, PlannedRoute, PlannedService } from './types.js';
import { sq } from './sys.js';

/** Longest unix socket path the kernel takes (sun_path is 108 bytes with the final NUL). */
const SUN_PATH_MAX = 107;

/** Directories every lab gateway has its own (empty) copy of. */
export const PRIVATE_DIRS = ['/var/lib/natchain', '/run/natchain', '/tmp', '/root'];

/** Where a lab keeps its files (all under one directory, removed by `lab down`). */
export interface LabPaths {
  dir: string;
  /** Private bind mount holding the persistent mount/UTS namespace files. */
  nsDir: string;
  sshConfig: string;
  knownHosts: string;
  identity: string;
  authorizedKeys: string;
  sshdConfig: string;
  gwDir(gw: string): string;
  hostKey(gw: string): string;
  mountNs(gw: string): string;
  utsNs(gw: string): string;
  socket(gw: string): string;
  log(node: string): string;
  script(node: string): string;
  /** The script a gateway runs inside its new mount namespace. */
  mountScript(gw: string): string;
  /** The fstab of a gateway's private mounts. */
  fstab(gw: string): string;
}

export function labPaths(dir: string, plan: LabPlan): LabPaths {
  if (!dir.startsWith('/') || /[\s'"\\,:!$`]/.test(dir)) {
    throw new NatchainError('LAB', `lab directory "${dir}" must be an absolute path without spaces, quotes or , : ! $ characters`, ['set NATCHAIN_LAB_DIR to a plain path']);
  }
  // Gateways get private copies of these; the lab's own files must stay visible to their sshd.
  if (PRIVATE_DIRS.some((p) => dir === p || dir.startsWith(p + '/'))) {
    throw new NatchainError('LAB', `lab directory "${dir}" cannot be under ${PRIVATE_DIRS.join(', ')}: lab gateways have their own`, ['set NATCHAIN_LAB_DIR elsewhere (default /run/natchain-lab)']);
  }
  const index = new Map(plan.gateways.map((g, i) => [g.name, i]));
  const socket = (gw: string) => {
    const named = join(dir, 'sock', `${gw}.sock`);
    return named.length <= SUN_PATH_MAX - 8 ? named : join(dir, 'sock', `g${index.get(gw)}.sock`);
  };
  for (const g of plan.gateways) {
    if (socket(g.name).length > SUN_PATH_MAX) throw new NatchainError('LAB', `lab directory "${dir}" is too long for unix socket paths`, ['set NATCHAIN_LAB_DIR to a shorter path']);
  }
  return {
    dir,
    nsDir: join(dir, 'ns'),
    sshConfig: join(dir, 'ssh_config'),
    knownHosts: join(dir, 'known_hosts'),
    identity: join(dir, 'id_ed25519'),
    authorizedKeys: join(dir, 'authorized_keys'),
    sshdConfig: join(dir, 'sshd_config'),
    gwDir: (gw) => join(dir, 'gw', gw),
    hostKey: (gw) => join(dir, 'gw', gw, 'ssh_host_ed25519_key'),
    mountNs: (gw) => join(dir, 'ns', `${gw}.mnt`),
    utsNs: (gw) => join(dir, 'ns', `${gw}.uts`),
    socket,
    log: (node) => join(dir, 'log', `${node}.log`),
    script: (node) => join(dir, 'scripts', `${node}.sh`),
    mountScript: (gw) => join(dir, 'scripts', 'mounts', `${gw}.sh`),
    fstab: (gw) => join(dir, 'scripts', 'mounts', `${gw}.fstab`),
  };
}

function routeLine(r: PlannedRoute): string {
  return `route add ${r.to}${r.via ? ` via ${r.via}` : ''} dev ${r.dev}${r.onlink ? ' onlink' : ''}${r.metric ? ` metric ${r.metric}` : ''}`;
}

/** `ip -batch` lines for the switch namespace: one bridge per segment, one veth per interface of every node. */
export function switchBatch(plan: LabPlan): string {
  const lines = ['link set lo up'];
  const bridgeOf = new Map(plan.segments.map((s) => [s.id, s.bridge]));
  for (const s of plan.segments) lines.push(`link add ${s.bridge} type bridge`, `link set ${s.bridge} up`);
  for (const n of [...plan.gateways, ...plan.hosts]) {
    for (const i of n.interfaces) {
      // The node's end is created straight in the node's namespace: it never exists anywhere else.
      lines.push(`link add ${i.swName} type veth peer name ${i.tmpName} netns ${n.netns}`, `link set ${i.swName} master ${bridgeOf.get(i.segment)} up`);
    }
  }
  return lines.join('\n') + '\n';
}

/** `ip -batch` lines for a node's own namespace: names, addresses, links up, routes. */
export function nodeBatch(n: PlannedNode): string {
  const lines = ['link set lo up'];
  for (const i of n.interfaces) lines.push(`link set ${i.tmpName} name ${i.name}`, `addr add ${i.address}/${i.prefix} dev ${i.name}`, `link set ${i.name} up`);
  for (const r of n.routes) lines.push(routeLine(r));
  return lines.join('\n') + '\n';
}

const HEADER = (what: string) => `#!/bin/sh
# natchain lab: ${what}. Written and run by \`natchain lab up\`; kept for reading.
set -eu
`;

/** The lab is IPv4 only: no IPv6 addresses, so no router solicitations or DAD chatter on its links. */
const NO_IPV6 = `for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/default/disable_ipv6; do
  if [ -e "$f" ]; then echo 1 > "$f"; fi
done
`;

/** Switch namespace: bridges, veths; bridged frames do not go through netfilter here. */
export function switchScript(plan: LabPlan): string {
  return (
    HEADER(`lab ${plan.lab}, switch namespace ${plan.switchNs}`) +
    NO_IPV6 +
    `for f in /proc/sys/net/bridge/bridge-nf-call-iptables /proc/sys/net/bridge/bridge-nf-call-ip6tables /proc/sys/net/bridge/bridge-nf-call-arptables; do
  if [ -e "$f" ]; then echo 0 > "$f"; fi
done
ip -batch - <<'EOF'
${switchBatch(plan)}EOF
`
  );
}

/**
 * Inside a gateway's new mount + UTS namespaces: its own name, /sys, /etc/hosts, natchain's state
 * directories, /tmp and /root; then sshd (started here, so it runs in all of the gateway's namespaces).
 */
export function gatewayMountScript(g: PlannedGateway, paths: LabPaths, sshd: string): string {
  const sock = sq(paths.socket(g.name));
  const log = sq(paths.log(g.name));
  // nofork: the connection itself becomes sshd's stdin/stdout (sshd sees the real TCP peer).
  const exec = sq(`EXEC:${sshd} -i -e -f ${paths.sshdConfig} -h ${paths.hostKey(g.name)},nofork`);
  const nsDirRe = `^${escapeRe(dirname(paths.dir))}/[^/]+/ns`;
  return (
    HEADER(`lab gateway ${g.name}, inside its mount and UTS namespaces`) +
    `echo ${g.name} > /proc/sys/kernel/hostname
# Copies of namespace files (this lab's, other labs') would keep those namespaces alive: drop them,
# the labs' namespace-file directories with one unmount each (each unmount waits for the kernel),
# then any other. /run/netns is a slave of the host's: namespaces deleted there vanish here too.
set -- $(awk -v labs=${sq(nsDirRe)} '$5 ~ (labs "$") { print $5; next } $5 ~ (labs "/") { next }
  { for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "nsfs" && index($5, "/run/netns/") != 1) other[$5] = 1; break } }
  END { for (m in other) print m }' /proc/self/mountinfo)
# Then, in one mount each: /sys showing this gateway's interfaces (as ip netns exec does), and
# natchain's state and lock, /tmp and root's home as this gateway's own (see fstab beside this script).
umount -l "$@" /sys 2>/dev/null || true
mount --all --fstab ${sq(paths.fstab(g.name))}
# A real OpenSSH sshd per connection (sshd -i): on a unix socket for natchain on the host (no IP
# involved), and on TCP port 22 inside the lab (so one gateway can jump to another).
socat UNIX-LISTEN:${sock},fork,unlink-early,mode=600 ${exec} </dev/null >>${log} 2>&1 &
socat TCP-LISTEN:22,fork,reuseaddr ${exec} </dev/null >>${log} 2>&1 &
# (lab up waits for the socket, for all gateways at once)
`
  );
}

/** The gateway's private mounts, for `mount --all --fstab` (one process for all of them). */
export function gatewayFstab(g: PlannedGateway, paths: LabPaths): string {
  const gw = paths.gwDir(g.name);
  return [
    `# natchain lab gateway ${g.name}: mounted inside its own mount namespace only`,
    'sysfs /sys sysfs rw,nosuid,nodev,noexec 0 0',
    `${join(gw, 'var-lib-natchain')} /var/lib/natchain none bind 0 0`,
    `${join(gw, 'run-natchain')} /run/natchain none bind 0 0`,
    `${join(gw, 'tmp')} /tmp none bind 0 0`,
    `${join(gw, 'root')} /root none bind 0 0`,
    `${join(gw, 'hosts')} /etc/hosts none bind 0 0`,
  ].join('\n') + '\n';
}

/** A gateway, run inside its network namespace: forwarding, links, then its own mount/UTS namespaces with sshd. */
export function gatewayScript(g: PlannedGateway, paths: LabPaths): string {
  return (
    HEADER(`lab gateway ${g.name}, run in network namespace ${g.netns}`) +
    `echo 1 > /proc/sys/net/ipv4/ip_forward
# Answer ARP only for the addresses of the interface asked on. The lab's internet is one bridge
# with on-link routes instead of routers; without this, a gateway would answer for its LAN
# addresses there too, and private addresses would be reachable across the "internet".
echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore
${NO_IPV6}ip -batch - <<'EOF'
${nodeBatch(g)}EOF
# Its own machine: persistent mount and UTS namespaces, kept in files (entered with nsenter).
unshare --mount=${sq(paths.mountNs(g.name))} --uts=${sq(paths.utsNs(g.name))} --propagation slave sh -eu ${sq(paths.mountScript(g.name))}
`
  );
}

/** What a target host's echo service answers: a line naming the host and the peer it saw. */
export function echoReply(host: string, proto: string, port: number): string {
  return `host=${host} proto=${proto} port=${port} peer=$SOCAT_PEERADDR peerport=$SOCAT_PEERPORT`;
}

/** A host, run inside its network namespace: the echo services of a target, its link and route. */
export function hostScript(h: PlannedHost, paths: LabPaths): string {
  let s = HEADER(`lab host ${h.name} (${h.role}), run in network namespace ${h.netns}`);
  // Started first (they listen on any address), so they are up by the time the link is.
  s += echoStartScript(h.name, h.services, paths.log(h.name));
  s += NO_IPV6 + `ip -batch - <<'EOF'\n${nodeBatch(h)}EOF\n`;
  s += echoWaitScript(h.services);
  return s;
}

/** sh lines that start a host's echo services in the background (`lab up`, and `lab echo start`). */
export function echoStartScript(host: string, services: readonly PlannedService[], logFile: string): string {
  if (!services.length) return '';
  const log = sq(logFile);
  let s = `# Echo services: one line naming this host and the address the client was seen as.\n`;
  for (const svc of services) {
    // UDP: socat hands the datagram to the command; read it first, or socat's write into a command
    // that has already exited fails (EPIPE) and the answer is lost.
    s += `socat ${echoListen(svc)} ${sq(`SYSTEM:${echoCommand(host, svc)}`)} </dev/null >>${log} 2>&1 &\n`;
  }
  return s;
}

/** socat's listening address for an echo service (`TCP-LISTEN:22,fork,reuseaddr`). */
export function echoListen(svc: Pick<PlannedService, 'proto' | 'port'>): string {
  return svc.proto === 'tcp' ? `TCP-LISTEN:${svc.port},fork,reuseaddr` : `UDP-RECVFROM:${svc.port},fork`;
}

function echoCommand(host: string, svc: PlannedService): string {
  return `${svc.proto === 'udp' ? 'head -c1 >/dev/null; ' : ''}echo ${echoReply(host, svc.proto, svc.port)}`;
}

/** sh lines that wait until every listener is up, reading /proc/net/{tcp,udp} with shell builtins only. */
export function echoWaitScript(services: readonly PlannedService[]): string {
  if (!services.length) return '';
  const want = services.map((x) => `${x.proto}:${x.port.toString(16).toUpperCase().padStart(4, '0')}`).join(' ');
  return `want=${sq(want)}
ready() {
  have=' '
  while read -r _ local _ st _; do [ "$st" = 0A ] && have="$have tcp:\${local#*:} "; done < /proc/net/tcp
  while read -r _ local _ _; do have="$have udp:\${local#*:} "; done < /proc/net/udp
  for w in $want; do case "$have" in *" $w "*) ;; *) return 1 ;; esac; done
}
n=0
until ready; do
  n=$((n + 1)); if [ $n -gt 1000 ]; then echo "echo services did not start" >&2; exit 1; fi
  sleep 0.01
done
`;
}

/** The sshd configuration every lab gateway's `sshd -i` uses (host keys come with -h). */
export function sshdConfig(paths: LabPaths): string {
  return `# natchain lab: sshd -i per connection, inside one lab gateway's namespaces (host key given with -h).
AuthorizedKeysFile ${paths.authorizedKeys}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The key files are root's (0600) in the lab directory, which may be anywhere ($NATCHAIN_LAB_DIR).
StrictModes no
PidFile none
PrintMotd no
LogLevel INFO
Subsystem sftp internal-sftp
`;
}

/** ssh_config for the lab: one Host per gateway, reached through its unix socket, host keys checked. */
export function sshConfig(plan: LabPlan, paths: LabPaths): string {
  let s = `# natchain lab ${plan.lab}: one Host per gateway (ssh -F ${paths.sshConfig} <gateway>).
# Written by \`natchain lab up\`, removed by \`natchain lab down\`. No IP is involved: each
# connection goes through a unix socket to an sshd started inside the gateway's namespaces.
`;
  for (const g of plan.gateways) {
    s += `
Host ${[g.name, ...g.sshAliases].join(' ')}
  HostName ${g.name}
  HostKeyAlias ${g.name}
  ProxyCommand socat - UNIX-CONNECT:${paths.socket(g.name)}
  User root
  IdentityFile ${paths.identity}
  IdentitiesOnly yes
  UserKnownHostsFile ${paths.knownHosts}
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  CheckHostIP no
  LogLevel ERROR
`;
  }
  return s;
}

/** The gateway's /etc/hosts. */
export function etcHosts(g: PlannedGateway): string {
  return ['127.0.0.1 localhost', ...g.etcHosts.map((e) => `${e.address} ${e.names.join(' ')}`)].join('\n') + '\n';
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
