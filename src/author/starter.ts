// The starter topology `natchain init` writes: one site, one gateway, the internet, and an example
// forward commented out. It validates as it is, and every line says what to change.

/** The first line of a topology: editors that speak yaml-language-server then check and complete it. */
export function schemaLine(schemaRef: string): string {
  return `# yaml-language-server: $schema=${schemaRef}\n`;
}

/** The starter topology's text; `schemaRef` is the schema's path relative to the file (or a URL). */
export function starterTopology(schemaRef: string): string {
  return (
    schemaLine(schemaRef) +
    `# A natchain topology: the sites (LANs), the networks between gateways, the gateways natchain
# manages over SSH, and the forwards it keeps on them. Reference: docs/topology.md.
# Check it with \`natchain validate <file>\`; add forwards with \`natchain wizard <file>\`.
version: 1
sites:
  # A site is a LAN behind a gateway. Its subnets must not overlap another site's.
  lan:
    subnets: [192.168.1.0/24]
networks:
  # Clients on a public network (the internet) dial an address a gateway exposes.
  internet:
    public: true
gateways:
  # A Linux gateway. Its name is what ssh connects to (an ssh_config Host, or set ssh.host).
  gw:
    backend: iptables  # or nftables: how natchain loads its rules there
    interfaces:
      # Names and addresses exactly as \`ip addr\` shows them on the gateway.
      eth0: { address: 203.0.113.1/24, network: internet }
      eth1: { address: 192.168.1.1/24, site: lan }
forwards:
  # An example: internet clients reach 192.168.1.10:22 by dialling 203.0.113.1:2222.
  # ssh-10:
  #   from: internet
  #   to: 192.168.1.10:22
  #   proto: tcp
  #   expose: 203.0.113.1:2222
`
  );
}
