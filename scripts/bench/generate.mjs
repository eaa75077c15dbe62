// Generates the scale topology of the foundation issue: N sites, each behind its own gateway on
// one backbone network, and F forwards between random sites (seeded, so runs are comparable).
// Plain JavaScript so the benchmark measures the compiled CLI code (dist/), not a transpiler.

/** @param {number} sites @param {number} forwards @param {number} [seed] @returns {string} YAML */
export function generateTopology(sites, forwards, seed = 1) {
  const rand = mulberry32(seed);
  const out = ['version: 1', 'sites:'];
  const subnet = (i) => `10.${i >> 8}.${i & 255}`;
  const name = (i) => String(i).padStart(4, '0');
  for (let i = 0; i < sites; i++) out.push(`  s${name(i)}: { subnets: [${subnet(i)}.0/24] }`);
  out.push('networks:', '  backbone: { subnet: 172.16.0.0/16 }', 'gateways:');
  for (let i = 0; i < sites; i++) {
    out.push(
      `  gw${name(i)}:`,
      `    backend: ${i % 2 ? 'nftables' : 'iptables'}`,
      '    interfaces:',
      `      eth0: { address: 172.16.${(i + 1) >> 8}.${(i + 1) & 255}, network: backbone }`,
      `      eth1: { address: ${subnet(i)}.1/24, site: s${name(i)} }`,
    );
  }
  out.push('forwards:');
  for (let k = 0; k < forwards; k++) {
    const from = Math.floor(rand() * sites);
    let to = Math.floor(rand() * (sites - 1));
    if (to >= from) to++;
    // (host, port) is unique per forward, so no two forwards claim the same target on a gateway.
    const host = 2 + Math.floor(k / 60000);
    const port = 1024 + (k % 60000);
    out.push(`  f${k}: { from: s${name(from)}, to: "${subnet(to)}.${host}:${port}"${k % 10 === 0 ? ', proto: both' : ''} }`);
  }
  return out.join('\n') + '\n';
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
