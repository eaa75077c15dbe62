#!/usr/bin/env bash
# `npm run demo`: seed 001 (two sites, one forward through two gateways) as a lab on this machine,
# natchain's rules pushed to both gateways over SSH in one transaction (`natchain apply`), and one
# real connection from 10.0.1.13 to 10.0.0.12:22 through both gateways; each gateway's conntrack
# entry is shown beside the one the seed describes.
#
# Needs root (network namespaces). Safe on any machine: the lab adds nothing to this machine's own
# network namespace, so no packet of the demo can leave it. The lab is taken down on exit, always.
# Usage: npm run demo [-- LAB]  (the lab's name, default seed-vpn: another name lets it run beside one).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LAB=${1:-seed-vpn}
TOPOLOGY=topologies/seed-vpn.yaml
SPORT=2182 # the client port in the seed's slides

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'
else
  B='' G='' R='' D='' N=''
fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
show() { printf '%s$ %s%s\n' "$D" "$*" "$N"; }
natchain() { node "$ROOT/dist/cli/main.js" "$@"; }

if [ "$(id -u)" != 0 ]; then
  echo "natchain demo: needs root (it builds network namespaces); run: sudo npm run demo" >&2
  exit 1
fi

step "Installing what is missing (Debian packages, npm packages, the build)"
bash scripts/install-deps.sh

step "Building seed 001 as a lab: $TOPOLOGY"
cat <<'EOF'
    site-a 10.0.0.0/24 -- gw-a (eth1 10.0.0.2, eth0 143.89.197.180) --+
                                                                      internet (a bridge)
    site-b 10.0.1.0/24 -- gw-b (eth1 10.0.1.2, eth0 143.89.135.171) --+
    server 10.0.0.12:22 in site-a, client 10.0.1.13 in site-b
EOF
natchain lab down "$LAB" >/dev/null 2>&1 || true # a lab left by an interrupted run
SSH_CONFIG="${NATCHAIN_LAB_DIR:-/run/natchain-lab}/$LAB/ssh_config"
# The demo's transactions go to a journal of their own, not the user's.
NATCHAIN_STATE_DIR=$(mktemp -d /tmp/natchain-demo-state.XXXXXX)
export NATCHAIN_STATE_DIR
trap 'echo; show "natchain lab down $LAB"; natchain lab down "$LAB" || true; rm -rf "$NATCHAIN_STATE_DIR"' EXIT
show "natchain lab up $TOPOLOGY --name $LAB"
natchain lab up "$TOPOLOGY" --name "$LAB"

step "Before natchain: 10.0.1.13 cannot reach 10.0.0.12:22 (site-a's LAN is not routed over the internet)"
show "natchain lab exec $LAB client-b -- socat - TCP:10.0.0.12:22,connect-timeout=2"
if natchain lab exec "$LAB" client-b -- socat -T3 - TCP:10.0.0.12:22,connect-timeout=2 </dev/null 2>&1; then
  echo "${R}unexpected: the connection worked without natchain's rules${N}"
  exit 1
else
  echo "${G}no connection, as expected${N}"
fi

step "What natchain would change on each gateway, read live over SSH (the seed's rules, narrowed to this forward)"
show "natchain plan $TOPOLOGY -F $SSH_CONFIG"
natchain plan "$TOPOLOGY" -F "$SSH_CONFIG" || [ $? -eq 2 ] # 2: changes pending

step "Pushing them to both gateways over SSH as one transaction"
echo "    ${D}lock + snapshot, stage + check everywhere, arm a dead-man timer + apply + read back,"
echo "    a new SSH connection must still get in, then commit: both gateways or neither${N}"
show "natchain apply $TOPOLOGY -F $SSH_CONFIG --yes"
natchain apply "$TOPOLOGY" -F "$SSH_CONFIG" --yes
show "natchain status $TOPOLOGY -F $SSH_CONFIG"
natchain status "$TOPOLOGY" -F "$SSH_CONFIG"

step "One real connection: client-b (10.0.1.13) dials 10.0.0.12:22 from port $SPORT"
show "natchain lab exec $LAB client-b -- socat - TCP:10.0.0.12:22,sourceport=$SPORT"
reply=$(natchain lab exec "$LAB" client-b -- socat -T3 - "TCP:10.0.0.12:22,sourceport=$SPORT,connect-timeout=3" </dev/null)
echo "    the server answered: ${B}$reply${N}"
case "$reply" in
  *"host=server-ssh-12 "*"peer=143.89.135.171 "*) echo "    ${G}it reached server-ssh-12 and saw gw-b's public address, as in the seed${N}" ;;
  *) echo "    ${R}unexpected answer${N}"; exit 1 ;;
esac

step "Each gateway's conntrack entry beside the seed's"
tuples() { # the original and reply tuples of the entry with source port $SPORT
  natchain lab exec "$LAB" "$1" -- conntrack -L -p tcp --orig-port-src "$SPORT" 2>/dev/null |
    grep -oE 'src=[0-9.]+ dst=[0-9.]+ sport=[0-9]+ dport=[0-9]+' | paste -sd'|' | sed 's/|/  |  /'
}
ok=1
compare() { # gateway, expected, where the expectation comes from
  local got
  got=$(tuples "$1")
  printf '  %s%-5s%s  conntrack  %s\n' "$B" "$1" "$N" "$got"
  printf '         seed       %s   %s(%s)%s\n' "$2" "$D" "$3" "$N"
  if [ "$got" = "$2" ]; then echo "         ${G}same${N}"; else echo "         ${R}different${N}"; ok=0; fi
}
compare gw-b "src=10.0.1.13 dst=10.0.0.12 sport=$SPORT dport=22  |  src=143.89.197.180 dst=143.89.135.171 sport=22012 dport=$SPORT" "steps (1) and (2) of the packet's life"
compare gw-a "src=143.89.135.171 dst=143.89.197.180 sport=$SPORT dport=22012  |  src=10.0.0.12 dst=143.89.135.171 sport=22 dport=$SPORT" "the seed's conntrack entry on gateway A"
echo "  ${D}(original tuple | reply tuple: gw-b rewrote the destination to gw-a's port 22012 and the source to"
echo "   its own public address; gw-a rewrote the destination to the server; replies retrace the way back)${N}"

if [ "$ok" = 1 ]; then
  step "${G}Done: one forward, two gateways, the rules natchain generated, real packets.${N}"
else
  step "${R}The conntrack entries differ from the seed's.${N}"
  exit 1
fi
