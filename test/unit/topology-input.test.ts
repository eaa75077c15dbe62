// Bad input, class by class (issue 11): every input ends in file:line:col diagnostics or a model,
// never an internal error, a hidden error, a position past the file, raw control characters or
// another library's wording.
import { expect } from 'chai';
import { TopologyError } from '../../src/errors.js';
import { escapeControl, quote } from '../../src/escape.js';
import { decodeText } from '../../src/topology/decode.js';
import { MAX_DEPTH } from '../../src/topology/parse.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natchain } from '../support/cli.js';
import { errorsOf, topo, twoSites } from '../support/topo.js';

/** The diagnostics of a text that must fail, as `line:col: message` (file name dropped). */
function errors(yaml: string): string[] {
  return errorsOf(() => topo(yaml)).map((l) => l.replace(/^t\.yaml:/, ''));
}

describe('bad input: deep nesting (class 1)', () => {
  for (const [what, text] of [
    ['3,000 nested "- "', '- '.repeat(3000) + 'x\n'],
    ['5,000 nested "["', 'a: ' + '['.repeat(5000) + '\n'],
    ['5,000 nested "{a: "', '{a: '.repeat(5000) + '\n'],
    ['a syntax error first, then deep nesting', 'a: "x\\q"\nb: ' + '['.repeat(5000) + '\n'],
    ['deep block maps', Array.from({ length: 200 }, (_, i) => ' '.repeat(i) + `k${i}:`).join('\n') + ' 1\n'],
  ] as const) {
    it(`${what}: a file:line:col error, never a stack overflow`, () => {
      const out = errors(text);
      expect(out.length).to.be.greaterThan(0);
      for (const l of out) {
        expect(l).to.match(/^\d+:\d+: /);
        expect(l).not.to.match(/call stack|RangeError|internal/i);
      }
    });
  }

  it(`names the limit (${MAX_DEPTH} levels)`, () => {
    expect(errors('- '.repeat(3000) + 'x\n')[0]).to.match(new RegExp(`^1:\\d+: nested more than ${MAX_DEPTH} levels deep`));
  });
});

describe('bad input: one shape error never hides the others (class 2)', () => {
  for (const [what, line] of [
    ['version: 2', 'version: 2\n'],
    ['an invalid defaults.backend', 'defaults: { backend: pf }\n'],
    ['an invalid defaults.hopPorts', 'defaults: { hopPorts: [1] }\n'],
    ['an unknown top-level field', 'colour: red\n'],
    ['a forwards map that is a list', ''],
  ] as const) {
    it(`${what}: a bad address and port 65536 later are still reported`, () => {
      let yaml = line + twoSites(`  f: { from: site-b, to: "10.0.0.5:65536" }\n  g: { from: site-b, to: "10.0.0.6:22", expose: "1.2.3.400" }\n`);
      yaml = yaml.replace('eth1: { address: 10.0.1.1/24', 'eth1: { address: 10.0.1.300/24');
      if (what.startsWith('a forwards map')) yaml += 'lab: { hosts: [a, b] }\n';
      const out = errors(yaml);
      expect(out.some((l) => /"10\.0\.1\.300\/24" is not an IPv4 address/.test(l)), out.join('\n')).to.equal(true);
      expect(out.some((l) => /to: port 65536 is outside 1-65535/.test(l)), out.join('\n')).to.equal(true);
      expect(out.some((l) => /expose: "1\.2\.3\.400" is not an IPv4 address/.test(l)), out.join('\n')).to.equal(true);
    });
  }

  it('a bad field of a forward leaves out that field only: its other fields are still checked', () => {
    const out = errors(twoSites(`  h: { from: site-b, to: "10.0.0.5:90-80", proto: tcpx }\n`));
    expect(out).to.deep.equal(['16:26: to: port range 90-80 is reversed: write 80-90', '16:51: forwards.h.proto: "tcpx" is not one of tcp, udp or both']);
  });
});

describe('bad input: positions never past the end of the file (class 3)', () => {
  it('an unterminated quote is reported where it opens, and where the parser gave up', () => {
    const yaml = 'sites:\n  a: { subnets: [10.0.0.0/24] }\ngateways:\n  g:\n    description: "never closed\n    interfaces: {}\n\n\n';
    expect(errors(yaml)).to.deep.equal(['5:18: the double-quoted string opened here is never closed (the parser gave up at the end of the file)']);
  });

  it('an unclosed flow sequence is reported where "[" opens', () => {
    expect(errors('sites:\n  a: { subnets: [10.0.0.0/24\ngateways: {}\n')[0]).to.match(/^2:17: the flow sequence "\[" opened here is never closed/);
  });

  for (const text of ["a: 'x\n", 'a: {b: 1\n', 'a: [1,\n', 'a: "', 'a: |\n  x\n b: 1', '- [\n-']) {
    it(`${JSON.stringify(text)}: every position is inside the file`, () => {
      const lines = text.split('\n');
      for (const l of errors(text)) {
        const [line, col] = l.split(':').map(Number) as [number, number];
        expect(line, l).to.be.within(1, lines.length);
        expect(col, l).to.be.within(1, lines[line - 1]!.length + 1);
      }
    });
  }
});

describe('bad input: names that are JavaScript object members (class 5)', () => {
  // A full e2e over validate, solve, render, lock and diff is in test/unit/topology-names.test.ts.
  it('a forward named toString is kept, with its pins; another one has no pin called toString', () => {
    const t = topo(twoSites(`  toString: { from: site-b, to: "10.0.0.5:22", ports: { gw-a: 24000 } }\n  constructor: { from: site-b, to: "10.0.0.6:22" }\n`));
    expect(t.forwards.map((f) => f.name)).to.deep.equal(['toString', 'constructor']);
    expect(t.forwards[0]!.pins['gw-a']).to.equal(24000);
    expect(t.forwards[1]!.pins['toString']).to.equal(undefined);
    expect(t.forwards[1]!.pins['gw-a']).to.equal(undefined);
  });

  it('__proto__ is refused as a name or field wherever it is (zod would skip it unchecked)', () => {
    const out = errors(twoSites(`  __proto__: { from: site-b, to: "10.0.0.5:22" }\n  f: { from: site-b, to: "10.0.0.6:22", __proto__: 1 }\n`).replace('gw-a:\n', 'gw-a:\n    ssh: { __proto__: { port: 1 } }\n'));
    expect(out).to.deep.equal([
      '8:12: gateways.gw-a.ssh: "__proto__" is not a valid name or field (names start with a letter or digit)',
      '17:3: forwards: "__proto__" is not a valid name or field (names start with a letter or digit)',
      '18:41: forwards.f: "__proto__" is not a valid name or field (names start with a letter or digit)',
    ]);
  });
});

describe('bad input: control characters are escaped in every message (class 6)', () => {
  it('escapes newlines, carriage returns, ANSI escapes and bidi overrides', () => {
    expect(escapeControl('a\nb\rc\u001b[31md\u202ee\u0000')).to.equal('a\\nb\\rc\\e[31md\\u202ee\\u0000');
    expect(quote('x"\n')).to.equal('"x\\"\\n"');
  });

  it('file names with control characters are escaped too, valid or not, found or not (compiled CLI)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'natchain-esc-'));
    try {
      const hostile = join(dir, 'x\u001b[31mred\rz.yaml');
      writeFileSync(hostile, 'sites: {}\ngateways: {}\nforwards: { f: 5 }\n');
      const valid = join(dir, 'ok\u001b[1m.yaml');
      writeFileSync(valid, 'sites: {}\ngateways: {}\n');
      const r = natchain(['validate', hostile, valid, join(dir, 'missing\u001b[2J\nfake')]);
      expect(r.code).to.equal(1);
      expect(r.stdout + r.stderr).not.to.match(/[\u0000-\u0009\u000b-\u001f]/);
      expect(r.stderr).to.contain('x\\e[31mred\\rz.yaml:3:16: forwards.f: expected a map, got 5');
      expect(r.stdout).to.contain('valid ' + join(dir, 'ok\\e[1m.yaml'));
      expect(r.stderr).to.contain('missing\\e[2J\\nfake');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a hostile name or value cannot forge a diagnostic line or recolour the terminal', () => {
    const yaml = 'sites:\n  "a\\e[31mred\\nfake.yaml:1:1: forged": { subnets: [10.0.0.0/24] }\ngateways: {}\nforwards:\n  f: { from: "\\r\\e[2K", to: "\\e[2J10.0.0.1:22" }\n';
    const out = errors(yaml);
    expect(out.length).to.equal(3);
    for (const l of out) expect(l).not.to.match(/[\u0000-\u001f\u007f]/);
    expect(out.join('\n')).to.include('"a\\e[31mred\\nfake.yaml:1:1: forged"');
  });
});

describe('bad input: messages say what is wrong, in natchain words (class 7)', () => {
  for (const [to, message] of [
    ['10.0.0.5:0', 'to: port 0 is outside 1-65535'],
    ['10.0.0.5:65536', 'to: port 65536 is outside 1-65535'],
    ['10.0.0.5:90-80', 'to: port range 90-80 is reversed: write 80-90'],
    ['10.0.0.5:http', 'to: "http" is not a port or a port range like 8000-8010 (write host:port or host:from-to, e.g. 10.0.0.12:22)'],
  ] as const) {
    it(`to: ${to}`, () => {
      expect(errors(twoSites(`  f: { from: site-b, to: "${to}" }\n`))).to.deep.equal([`16:26: ${message}`]);
    });
  }

  it('one message per bad value, none with zod wording', () => {
    const out = errors(
      twoSites(`  f: { from: site-b, to: "10.0.0.5:22", proto: tcpx, hairpin: yes, ports: { gw-a: 99999999999999999999999 } }\n  g: { from: [], to: 5 }\n`),
    );
    expect(out).to.deep.equal([
      '16:48: forwards.f.proto: "tcpx" is not one of tcp, udp or both',
      '16:63: forwards.f.hairpin: expected true or false, got text "yes"',
      '16:83: forwards.f.ports.gw-a: port 1e+23 is outside 1-65535',
      '17:14: forwards.g.from: the list must have at least 1 item',
      '17:22: forwards.g.to: expected text, got 5',
    ]);
    for (const l of out) expect(l).not.to.match(/Invalid (input|option)|expected one of|9007199254740991|2\^53/);
  });

  it('a follow-on error says it may be a consequence of an error above', () => {
    const yaml = twoSites(`  f: { from: internet, to: "10.0.0.5:22", expose: "198.51.100.1:8080" }\n`).replace(
      'eth0: { address: 198.51.100.1/24, network: internet }',
      'eth0: { address: 198.51.100.1/24, network: internt }',
    );
    expect(errors(yaml)).to.deep.equal([
      '9:50: unknown network "internt"; did you mean "internet"?',
      '16:51: 198.51.100.1 belongs to gw-a/eth0, which has an error (possibly a consequence of an error above)',
    ]);
  });

  it('says a file is not UTF-8, and on which line', () => {
    const bytes = Buffer.from('sites:\n  a: { subnets: [10.0.0.0/24] }\n# caf\xe9\n', 'latin1');
    expect(() => decodeText(bytes, 'x.yaml')).to.throw(TopologyError).with.property('details').that.deep.equals([
      'x.yaml:3:6: the file is not UTF-8 text (line 3: byte 0xE9): save it as UTF-8',
    ]);
  });

  for (const [enc, bytes] of [
    ['UTF-16 (little-endian)', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('sites: {}\n', 'utf16le')])],
    ['UTF-16 (little-endian)', Buffer.from('sites: {}\ngateways: {}\n', 'utf16le')],
    ['UTF-16 (big-endian)', Buffer.from('sites: {}\ngateways: {}\n', 'utf16le').swap16()],
  ] as const) {
    it(`says a file is ${enc}`, () => {
      expect(() => decodeText(bytes, 'x.yaml')).to.throw(TopologyError).with.property('details').that.deep.equals([`x.yaml:1:1: the file is ${enc}, not UTF-8: save it as UTF-8`]);
    });
  }

  it('names a NUL byte instead of failing on it', () => {
    expect(() => decodeText(Buffer.from('a: 1\nb: \0\n'), 'x.yaml')).to.throw(TopologyError).with.property('details').that.deep.equals([
      'x.yaml:2:4: the file is not UTF-8 text (line 2: a NUL byte): save it as UTF-8',
    ]);
  });

  it('decodes UTF-8 (with or without BOM) as it is', () => {
    expect(decodeText(Buffer.from('a: "café"\n'), 'x.yaml')).to.equal('a: "café"\n');
    expect(decodeText(Buffer.from('\ufeffa: 1\n'), 'x.yaml')).to.equal('a: 1\n');
  });
});

describe('bad input: solve errors point at the field that is wrong (class 8)', () => {
  it('to:, one from: entry, ports:', () => {
    const yaml = `sites:
  a: { subnets: [10.0.0.0/24] }
  b: { subnets: [10.0.1.0/24] }
  c: { subnets: [10.0.2.0/24] }
networks:
  internet: { public: true }
  island: {}
gateways:
  gw-a:
    interfaces:
      eth0: { address: 198.51.100.1/24, network: internet }
      eth1: { address: 10.0.0.1/24, site: a }
  gw-b:
    interfaces:
      eth0: { address: 203.0.113.1/24, network: internet }
      eth1: { address: 10.0.1.1/24, site: b }
  gw-c:
    interfaces:
      eth0: { address: 192.0.2.1/24, network: island }
      eth1: { address: 10.0.2.1/24, site: c }
forwards:
  nosite:
    from: b
    to: 10.9.0.5:22
  unreachable:
    from: [b, c]
    to: 10.0.0.5:22
  pinned:
    from: b
    to: 10.0.0.6:22
    ports: { gw-b: 24000 }
`;
    expect(errors(yaml)).to.deep.equal([
      '24:9: forward "nosite": target 10.9.0.5 is in no site\'s subnet, so no gateway can reach it',
      '26:15: forward "unreachable": target 10.0.0.5 is unreachable from c: no path of networks from gateway gw-c to gw-a',
      '31:20: forward "pinned": ports: gateway gw-b has no hop port in this forward\'s chains',
    ]);
  });
});
