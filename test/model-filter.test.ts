import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filterToString, matches, parseFilter } from '../src/model/index.js';
import type { Filter, FlowRecord } from '../src/model/index.js';
import { flow } from './helpers/model-fixtures.js';

/** One flow of each kind the filter distinguishes, named for the tables below. */
const FLOWS: Record<string, FlowRecord> = {
  tcp4: flow({ key: 'tcp4', proto: 6, src: '10.0.0.1', dst: '93.184.216.34', sport: 40000, dport: 443, dir: 'egress', ifname: 'eth0' }),
  udp6: flow({ key: 'udp6', family: 6, proto: 17, src: '2001:db8::1', dst: 'ff02::fb', sport: 5353, dport: 5353, dir: 'ingress', ifname: 'wlan0' }),
  icmp4: flow({ key: 'icmp4', proto: 1, src: '10.0.0.1', dst: '8.8.8.8', sport: 0, dport: 0x0800, dir: 'egress', ifname: 'eth0' }),
  icmp6: flow({ key: 'icmp6', family: 6, proto: 58, src: 'fe80::1', dst: 'fe80::2', sport: 0, dport: 0x8000, dir: 'ingress', ifname: 'eth0' }),
  sctp4: flow({ key: 'sctp4', proto: 132, src: '192.168.1.5', dst: '192.168.1.6', sport: 3868, dport: 3868, dir: 'ingress', ifname: 'eth1' }),
  gre4: flow({ key: 'gre4', proto: 47, src: '10.1.1.1', dst: '10.2.2.2', sport: 0, dport: 0, dir: 'egress', ifname: 'eth1' }),
  lite6: flow({ key: 'lite6', family: 6, proto: 136, src: '2001:db8:0:1::5', dst: '2001:db8::9', sport: 1000, dport: 2000, dir: 'egress', ifname: 'eth0' }),
};
const ALL = Object.keys(FLOWS);

function parse(text: string): Filter {
  const result = parseFilter(text);
  if (!result.ok) assert.fail(`${JSON.stringify(text)} did not parse: ${result.error}`);
  return result.filter;
}

function matching(text: string): string[] {
  const filter = parse(text);
  return ALL.filter((name) => matches(filter, FLOWS[name] as FlowRecord));
}

/** Fully parenthesised, to make the tree's shape visible in precedence tests. */
function shape(filter: Filter): string {
  switch (filter.kind) {
    case 'and':
    case 'or':
      return `(${filter.terms.map(shape).join(` ${filter.kind} `)})`;
    case 'not':
      return `(not ${shape(filter.term)})`;
    default:
      return filterToString(filter);
  }
}

describe('parseFilter + matches: accepted expressions', () => {
  const cases: [string, string[]][] = [
    ['', ALL],
    ['   ', ALL],
    ['tcp', ['tcp4']],
    ['udp', ['udp6']],
    ['icmp', ['icmp4', 'icmp6']], // both ICMPs, as users mean it
    ['icmp6', ['icmp6']],
    ['icmpv6', ['icmp6']],
    ['sctp', ['sctp4']],
    ['udplite', ['lite6']],
    ['TCP', ['tcp4']], // keywords are case-insensitive
    ['ip', ['tcp4', 'icmp4', 'sctp4', 'gre4']],
    ['ip6', ['udp6', 'icmp6', 'lite6']],
    ['proto 47', ['gre4']],
    ['proto 1', ['icmp4']],
    ['proto icmp', ['icmp4']], // a protocol number: ICMP only, unlike the 'icmp' keyword
    ['proto udp', ['udp6']],
    ['host 10.0.0.1', ['tcp4', 'icmp4']],
    ['src host 10.0.0.1', ['tcp4', 'icmp4']],
    ['dst host 10.0.0.1', []],
    ['dst 8.8.8.8', ['icmp4']],
    ['src 2001:db8::1', ['udp6']],
    ['host 2001:0db8:0:0::1', ['udp6']], // uncompressed input, compressed stored
    ['host 2001:DB8:0:0:0:0:0:1', ['udp6']],
    ['dst host ff02:0::fb', ['udp6']],
    ['port 443', ['tcp4']],
    ['port 5353', ['udp6']],
    ['src port 40000', ['tcp4']],
    ['dst port 40000', []],
    ['port 2048', []], // icmp4's dport holds type 8 code 0, not a port
    ['port 0', []], // nor does gre's
    ['portrange 1-65535', ['tcp4', 'udp6', 'sctp4', 'lite6']],
    ['portrange 0-65535', ['tcp4', 'udp6', 'sctp4', 'lite6']],
    ['portrange 1000-3868', ['sctp4', 'lite6']],
    ['portrange 3868-1000', ['sctp4', 'lite6']], // ends in either order, as pcap
    ['src portrange 1000-1000', ['lite6']],
    ['dst portrange 400-500', ['tcp4']],
    ['net 10.0.0.0/8', ['tcp4', 'icmp4', 'gre4']],
    ['src net 10.0.0.0/24', ['tcp4', 'icmp4']],
    ['dst net 10.0.0.0/8', ['gre4']],
    ['dst 10.0.0.0/8', ['gre4']], // a prefix after dst is a net
    ['net 0.0.0.0/0', ['tcp4', 'icmp4', 'sctp4', 'gre4']],
    ['net ::/0', ['udp6', 'icmp6', 'lite6']],
    ['net 10.0.0.1/32', ['tcp4', 'icmp4']],
    ['net 2001:db8::/32', ['udp6', 'lite6']],
    ['net 2001:db8:0:1::/64', ['lite6']],
    ['net 2001:db8::1/128', ['udp6']],
    ['net fe80::/10', ['icmp6']],
    ['inbound', ['udp6', 'icmp6', 'sctp4']],
    ['ingress', ['udp6', 'icmp6', 'sctp4']],
    ['outbound', ['tcp4', 'icmp4', 'gre4', 'lite6']],
    ['egress', ['tcp4', 'icmp4', 'gre4', 'lite6']],
    ['iface eth1', ['sctp4', 'gre4']],
    ['iface ETH1', []], // interface names keep their case
    ['tcp or udp', ['tcp4', 'udp6']],
    ['tcp || udp', ['tcp4', 'udp6']],
    ['ip and not icmp', ['tcp4', 'sctp4', 'gre4']],
    ['ip && !icmp', ['tcp4', 'sctp4', 'gre4']],
    ['!(tcp||udp)', ['icmp4', 'icmp6', 'sctp4', 'gre4', 'lite6']],
    ['not not tcp', ['tcp4']],
    ['(((tcp)))', ['tcp4']],
    ['tcp port 443', ['tcp4']], // pcap's qualified primitive: tcp and port 443
    ['udp port 443', []],
    ['udp dst port 5353', ['udp6']],
    ['ip6 host 2001:db8::1', ['udp6']],
    ['ip proto 47', ['gre4']],
    ['not tcp port 443', ALL.filter((name) => name !== 'tcp4')],
    ['ingress and (udp or sctp) and not ip6', ['sctp4']],
    ['host 10.0.0.1 and (port 443 or icmp)', ['tcp4', 'icmp4']],
  ];
  for (const [text, want] of cases) {
    it(JSON.stringify(text), () => assert.deepEqual(matching(text), want));
  }
});

describe('precedence: not > and > or, left to right', () => {
  const cases: [string, string][] = [
    ['tcp or udp and icmp', '(tcp or (udp and icmp))'],
    ['tcp and udp or icmp', '((tcp and udp) or icmp)'],
    ['not tcp and udp', '((not tcp) and udp)'],
    ['not tcp or udp', '((not tcp) or udp)'],
    ['not (tcp or udp)', '(not (tcp or udp))'],
    ['(tcp or udp) and icmp', '((tcp or udp) and icmp)'],
    ['tcp or udp or icmp', '(tcp or udp or icmp)'],
    ['tcp and (udp and icmp)', '(tcp and udp and icmp)'], // same-kind nesting flattens
    ['ip or ip6 and not tcp and udp or sctp', '(ip or (ip6 and (not tcp) and udp) or sctp)'],
    ['tcp port 80 or udp', '((tcp and port 80) or udp)'],
  ];
  for (const [text, want] of cases) {
    it(text, () => assert.equal(shape(parse(text)), want));
  }

  it('truth table of "tcp or udp and ingress" is tcp || (udp && ingress)', () => {
    // udp6 is ingress, tcp4 is egress: with the wrong precedence tcp4 would drop out.
    assert.deepEqual(matching('tcp or udp and ingress'), ['tcp4', 'udp6']);
    assert.deepEqual(matching('(tcp or udp) and ingress'), ['udp6']);
  });
});

describe('filterToString', () => {
  const cases: [string, string][] = [
    ['', ''],
    ['TCP  &&  PORT 443', 'tcp and port 443'],
    ['host 2001:0DB8:0:0::1', 'host 2001:db8::1'],
    ['src net 10.0.0.0/8', 'src net 10.0.0.0/8'],
    ['portrange 2000-1000', 'portrange 1000-2000'],
    ['portrange 80-80', 'port 80'],
    ['!(tcp || udp) && inbound', 'not (tcp or udp) and ingress'],
    ['(tcp or udp) and icmp', '(tcp or udp) and icmp'],
    ['not (tcp and udp)', 'not (tcp and udp)'],
    ['proto 47 or iface veth0', 'proto 47 or iface veth0'],
    ['ip6 or outbound', 'ip6 or egress'],
  ];
  for (const [text, want] of cases) {
    it(JSON.stringify(text), () => {
      assert.equal(filterToString(parse(text)), want);
      // The canonical text parses back to the same filter.
      assert.deepEqual(parse(filterToString(parse(text))), parse(text));
    });
  }
});

describe('parseFilter: rejected expressions', () => {
  const cases: [string, string][] = [
    ['port', "expected a port number (0-65535) after 'port' at column 5"],
    ['port x', "expected a port number (0-65535) after 'port' at column 6, found 'x'"],
    ['port 65536', "expected a port number (0-65535) after 'port' at column 6, found '65536'"],
    ['port -1', "expected a port number (0-65535) after 'port' at column 6, found '-1'"],
    ['port and tcp', "expected a port number (0-65535) after 'port' at column 6, found 'and'"],
    ['src port )', "expected a port number (0-65535) after 'port' at column 10, found ')'"],
    ['portrange 10', "expected a port range like 1024-65535 after 'portrange' at column 11, found '10'"],
    ['portrange 1-2-3', "expected a port range like 1024-65535 after 'portrange' at column 11, found '1-2-3'"],
    ['portrange 1-70000', "expected a port range like 1024-65535 after 'portrange' at column 11, found '1-70000'"],
    ['host', "expected an IPv4 or IPv6 address after 'host' at column 5"],
    ['host 10.0.0.256', "expected an IPv4 or IPv6 address after 'host' at column 6, found '10.0.0.256'"],
    ['host 10.0.0.0/8', "expected an IPv4 or IPv6 address after 'host' at column 6, found '10.0.0.0/8' (use 'net' for a prefix)"],
    ['host 1::2::3', "expected an IPv4 or IPv6 address after 'host' at column 6, found '1::2::3'"],
    ['net 10.0.0.0', "expected a prefix like 10.0.0.0/8 or 2001:db8::/32 after 'net' at column 5, found '10.0.0.0'"],
    ['net 10.0.0.0/33', "expected a prefix like 10.0.0.0/8 or 2001:db8::/32 after 'net' at column 5, found '10.0.0.0/33'"],
    ['net ::/129', "expected a prefix like 10.0.0.0/8 or 2001:db8::/32 after 'net' at column 5, found '::/129'"],
    ['src', "expected an address, prefix, 'host', 'net', 'port' or 'portrange' after 'src' at column 4"],
    ['dst foo', "expected an address, prefix, 'host', 'net', 'port' or 'portrange' after 'dst' at column 5, found 'foo'"],
    ['proto', "expected a protocol name or number (0-255) after 'proto' at column 6"],
    ['proto 256', "expected a protocol name or number (0-255) after 'proto' at column 7, found '256'"],
    ['proto gre', "expected a protocol name or number (0-255) after 'proto' at column 7, found 'gre'"],
    ['iface', "expected an interface name after 'iface' at column 6"],
    ['iface or tcp', "expected an interface name after 'iface' at column 7, found 'or'"],
    ['tcp udp', "expected 'and', 'or' or the end of the filter at column 5, found 'udp'"],
    ['tcp and', "expected a filter primitive after 'and' at column 8"],
    ['tcp or or udp', "expected a filter primitive after 'or' at column 8, found 'or'"],
    ['and tcp', "expected a filter primitive at column 1, found 'and'"],
    ['not', "expected a filter primitive after 'not' at column 4"],
    ['!', "expected a filter primitive after '!' at column 2"],
    ['foo', "expected a filter primitive at column 1, found 'foo'"],
    ['10.0.0.1', "expected a filter primitive at column 1, found '10.0.0.1' (did you mean 'host 10.0.0.1'?)"],
    ['tcp and 443', "expected a filter primitive after 'and' at column 9, found '443'"],
    ['(tcp', "expected ')' to close the '(' of column 1 at column 5"],
    ['(tcp udp)', "expected 'and', 'or' or ')' at column 6, found 'udp'"],
    ['tcp and ((udp) or icmp', "expected ')' to close the '(' of column 9 at column 23"],
    ['tcp)', "unexpected ')' without a matching '(' at column 4"],
    ['()', "expected a filter primitive after '(' at column 2, found ')'"],
    ['tcp & udp', "unexpected '&' at column 5 (use '&&' or 'and')"],
    ['tcp | udp', "unexpected '|' at column 5 (use '||' or 'or')"],
    ['tcp port 80 udp', "expected 'and', 'or' or the end of the filter at column 13, found 'udp'"],
  ];
  for (const [text, want] of cases) {
    it(JSON.stringify(text), () => assert.deepEqual(parseFilter(text), { ok: false, error: want }));
  }

  it('deep nesting is an error, not a stack overflow', () => {
    const deep = parseFilter(`${'('.repeat(100000)}tcp${')'.repeat(100000)}`);
    assert.equal(deep.ok, false);
    assert.match(deep.ok ? '' : deep.error, /nested more than 100 levels deep at column 101$/);
    const nots = parseFilter(`${'not '.repeat(100000)}tcp`);
    assert.equal(nots.ok, false);
    assert.equal(parseFilter(`${'('.repeat(50)}tcp${')'.repeat(50)}`).ok, true);
  });

  it('long chains stay flat, so matching does not recurse per term', () => {
    const chain = parse(Array.from({ length: 50000 }, (_, i) => `port ${i % 65536}`).join(' or '));
    assert.equal(chain.kind, 'or');
    assert.equal(matches(chain, FLOWS.tcp4 as FlowRecord), true);
  });

  it('never throws on arbitrary input', () => {
    const alphabet = ['tcp', 'port', 'host', 'net', 'src', 'dst', '(', ')', '!', '&&', '||', 'and', 'or', 'not', '80', '10.0.0.0/8', '::1', '&', '|', '-', 'x', ' '];
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      let text = '';
      for (let j = 0; j < 8; j++) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        text += `${alphabet[seed % alphabet.length]} `;
      }
      const result = parseFilter(text);
      assert.ok(result.ok || /at column \d+/.test(result.error), text);
    }
  });
});

describe('health terms: rtt, retrans, drops', () => {
  const h = (rtt: number | undefined, retrans: number | undefined, drops: number | undefined) => ({
    rttUs: rtt === undefined ? undefined : { last: rtt },
    retrans,
    deltaRetrans: 0,
    drops,
    deltaDrops: 0,
    dropReasons: new Map<string, number>(),
  });
  const rows: Record<string, FlowRecord & { health?: ReturnType<typeof h> }> = {
    slow: { ...flow({ key: 'slow' }), health: h(25_000, 3, 0) },
    fast: { ...flow({ key: 'fast' }), health: h(800, 0, 2) },
    none: { ...flow({ key: 'none' }), health: h(undefined, 0, 0) },
    off: flow({ key: 'off' }),
  };
  const pick = (text: string) => Object.keys(rows).filter((k) => matches(parse(text), rows[k]!));
  const cases: [string, string[], string][] = [
    ['rtt > 10ms', ['slow'], 'rtt > 10ms'],
    ['rtt>10ms', ['slow'], 'rtt > 10ms'],
    ['rtt <= 1ms', ['fast'], 'rtt <= 1ms'],
    ['rtt < 900us', ['fast'], 'rtt < 900us'],
    ['rtt >= 0.025s', ['slow'], 'rtt >= 25ms'],
    ['rtt > 5', ['slow'], 'rtt > 5ms'],
    ['retrans', ['slow'], 'retrans'],
    ['drops', ['fast'], 'drops'],
    ['drops >= 2 or retrans > 2', ['slow', 'fast'], 'drops >= 2 or retrans > 2'],
    ['tcp and not retrans', ['fast', 'none', 'off'], 'tcp and not retrans'],
    ['retrans == 0', ['fast', 'none'], 'retrans = 0'],
  ];
  for (const [text, want, canonical] of cases) {
    it(`${text} → ${want.join(', ') || 'none'}`, () => {
      assert.deepEqual(pick(text), want);
      assert.equal(filterToString(parse(text)), canonical);
    });
  }

  it('says what is missing', () => {
    const err = (text: string) => {
      const r = parseFilter(text);
      assert.ok(!r.ok);
      return r.error;
    };
    assert.match(err('rtt'), /expected a comparison .* after 'rtt' at column 4 \(like 'rtt > 10ms'\)/);
    assert.match(err('rtt > fast'), /expected a duration like 10ms, 500us or 1s after 'rtt >' at column 7, found 'fast'/);
    assert.match(err('retrans > x'), /expected a count after 'retrans >'/);
    assert.match(err('drops >'), /expected a count after '>'/);
  });
});

describe('owner terms: pid, proc, cgroup, user', () => {
  const nginx = { pid: 812, comm: 'nginx', uid: 33, user: 'www-data', cgroup: '/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope', container: '0123456789ab' };
  const ssh = { pid: 90, comm: 'sshd', uid: 0, user: 'root', cgroup: '/system.slice/ssh.service', container: 'ssh' };
  const rows = {
    nginx: { ...FLOWS.tcp4!, owner: nginx },
    ssh: { ...FLOWS.tcp4!, owner: ssh },
    none: { ...FLOWS.tcp4!, owner: null },
    unknown: FLOWS.tcp4!,
  };
  const cases: [string, string[]][] = [
    ['pid 812', ['nginx']],
    ['pid 0812', ['nginx']],
    ['proc sshd', ['ssh']],
    ['proc ssh', []],
    ['cgroup system.slice', ['nginx', 'ssh']],
    ['cgroup 0123456789ab', ['nginx']],
    ['cgroup ssh', ['ssh']],
    ['user www-data', ['nginx']],
    ['user 0', ['ssh']],
    ['not pid 812', ['ssh', 'none', 'unknown']],
    ['tcp and user root', ['ssh']],
  ];
  for (const [text, want] of cases) {
    it(text, () => {
      const filter = parse(text);
      assert.deepEqual(Object.entries(rows).filter(([, r]) => matches(filter, r)).map(([name]) => name), want);
      assert.deepEqual(parse(filterToString(filter)), filter, 'prints back as it parses');
    });
  }
  for (const [text, error] of [
    ['pid', "expected a process id after 'pid' at column 4"],
    ['pid nginx', "expected a process id after 'pid' at column 5, found 'nginx'"],
    ['proc and tcp', "expected a process name (its comm) after 'proc' at column 6, found 'and'"],
    ['cgroup', "expected a part of a cgroup path or a container name after 'cgroup' at column 7"],
    ['user )', "expected a user name or uid after 'user' at column 6, found ')'"],
  ] as const) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.deepEqual(parseFilter(text), { ok: false, error }));
  }
});
