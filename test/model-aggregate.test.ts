import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregate, AGGREGATE_MODES, servicePort, topN } from '../src/model/index.js';
import type { AggRow, AggregateMode, FlowRate, Traffic } from '../src/model/index.js';
import { rate } from './helpers/model-fixtures.js';

const ROWS: FlowRate[] = [
  rate({ key: 'a', src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 443, proto: 6, dir: 'egress', packets: 10, bytes: 1000, deltaPackets: 2, deltaBytes: 200, pps: 2, bps: 1600, firstSeenNs: 50, lastSeenNs: 90, tcpFlags: 0x02 }),
  rate({ key: 'b', src: '10.0.0.2', dst: '10.0.0.1', sport: 443, dport: 40000, proto: 6, dir: 'ingress', packets: 20, bytes: 9000, deltaPackets: 4, deltaBytes: 1800, pps: 4, bps: 14400, firstSeenNs: 51, lastSeenNs: 95, tcpFlags: 0x12 }),
  rate({ key: 'c', src: '10.0.0.1', dst: '10.0.0.2', sport: 40001, dport: 443, proto: 6, dir: 'egress', packets: 1, bytes: 60, deltaPackets: 1, deltaBytes: 60, pps: 1, bps: 480, firstSeenNs: 10, lastSeenNs: 10, tcpFlags: 0x11 }),
  rate({ key: 'd', src: '10.0.0.1', dst: '8.8.8.8', sport: 5000, dport: 53, proto: 17, dir: 'egress', packets: 1, bytes: 80, deltaPackets: 0, deltaBytes: 0, pps: 0, bps: 0, firstSeenNs: 70, lastSeenNs: 70 }),
  rate({ key: 'e', family: 6, src: 'fe80::1', dst: 'fe80::2', sport: 0, dport: 0x8000, proto: 58, dir: 'egress', ifname: 'wlan0', packets: 3, bytes: 300, deltaPackets: 3, deltaBytes: 300, pps: 3, bps: 2400, firstSeenNs: 5, lastSeenNs: 99 }),
  rate({ key: 'f', family: 6, src: 'fe80::2', dst: 'fe80::1', sport: 0, dport: 0x8100, proto: 58, dir: 'ingress', ifname: 'wlan0', packets: 3, bytes: 300, deltaPackets: 3, deltaBytes: 300, pps: 3, bps: 2400, firstSeenNs: 6, lastSeenNs: 98 }),
];

/** The TCP conversation of ROWS with its window rates. */
const WINDOWED: FlowRate[] = [
  { ...(ROWS[0] as FlowRate), pps2: 1, bps2: 100, pps10: 1, bps10: 80, pps40: 2, bps40: 100 },
  { ...(ROWS[1] as FlowRate), pps2: 2, bps2: 200, pps10: 5, bps10: 800, pps40: 4, bps40: 1000 },
];

function traffic(r: FlowRate): Traffic {
  const { packets, bytes, deltaPackets, deltaBytes, pps, bps, pps2, bps2, pps10, bps10, pps40, bps40 } = r;
  return { packets, bytes, deltaPackets, deltaBytes, pps, bps, pps2, bps2, pps10, bps10, pps40, bps40 };
}

type Summary = Pick<AggRow, 'key' | 'flows' | 'packets' | 'bytes' | 'deltaPackets' | 'deltaBytes' | 'pps' | 'bps'>;
const summary = (rows: readonly AggRow[]): Summary[] =>
  rows.map(({ key, flows, packets, bytes, deltaPackets, deltaBytes, pps, bps }) => ({ key, flows, packets, bytes, deltaPackets, deltaBytes, pps, bps }));

describe('aggregate: groups and sums', () => {
  const cases: { mode: AggregateMode; want: Summary[] }[] = [
    {
      mode: 'src',
      want: [
        { key: '10.0.0.1', flows: 3, packets: 12, bytes: 1140, deltaPackets: 3, deltaBytes: 260, pps: 3, bps: 2080 },
        { key: '10.0.0.2', flows: 1, packets: 20, bytes: 9000, deltaPackets: 4, deltaBytes: 1800, pps: 4, bps: 14400 },
        { key: 'fe80::1', flows: 1, packets: 3, bytes: 300, deltaPackets: 3, deltaBytes: 300, pps: 3, bps: 2400 },
        { key: 'fe80::2', flows: 1, packets: 3, bytes: 300, deltaPackets: 3, deltaBytes: 300, pps: 3, bps: 2400 },
      ],
    },
    {
      mode: 'dst',
      want: [
        { key: '10.0.0.2', flows: 2, packets: 11, bytes: 1060, deltaPackets: 3, deltaBytes: 260, pps: 3, bps: 2080 },
        { key: '10.0.0.1', flows: 1, packets: 20, bytes: 9000, deltaPackets: 4, deltaBytes: 1800, pps: 4, bps: 14400 },
        { key: '8.8.8.8', flows: 1, packets: 1, bytes: 80, deltaPackets: 0, deltaBytes: 0, pps: 0, bps: 0 },
        { key: 'fe80::2', flows: 1, packets: 3, bytes: 300, deltaPackets: 3, deltaBytes: 300, pps: 3, bps: 2400 },
        { key: 'fe80::1', flows: 1, packets: 3, bytes: 300, deltaPackets: 3, deltaBytes: 300, pps: 3, bps: 2400 },
      ],
    },
    {
      mode: 'pair', // ordered: the two directions stay apart
      want: [
        { key: '10.0.0.1 10.0.0.2', flows: 2, packets: 11, bytes: 1060, deltaPackets: 3, deltaBytes: 260, pps: 3, bps: 2080 },
        { key: '10.0.0.2 10.0.0.1', flows: 1, packets: 20, bytes: 9000, deltaPackets: 4, deltaBytes: 1800, pps: 4, bps: 14400 },
        { key: '10.0.0.1 8.8.8.8', flows: 1, packets: 1, bytes: 80, deltaPackets: 0, deltaBytes: 0, pps: 0, bps: 0 },
        { key: 'fe80::1 fe80::2', flows: 1, packets: 3, bytes: 300, deltaPackets: 3, deltaBytes: 300, pps: 3, bps: 2400 },
        { key: 'fe80::2 fe80::1', flows: 1, packets: 3, bytes: 300, deltaPackets: 3, deltaBytes: 300, pps: 3, bps: 2400 },
      ],
    },
    {
      mode: 'port', // both directions of the HTTPS connection land in tcp/443; ICMP has no port
      want: [
        { key: 'tcp/443', flows: 3, packets: 31, bytes: 10060, deltaPackets: 7, deltaBytes: 2060, pps: 7, bps: 16480 },
        { key: 'udp/53', flows: 1, packets: 1, bytes: 80, deltaPackets: 0, deltaBytes: 0, pps: 0, bps: 0 },
        { key: 'icmpv6', flows: 2, packets: 6, bytes: 600, deltaPackets: 6, deltaBytes: 600, pps: 6, bps: 4800 },
      ],
    },
    {
      mode: 'conversation', // a and b are the two directions of one connection; e and f of one ping
      want: [
        { key: 'tcp 10.0.0.1:40000 10.0.0.2:443', flows: 2, packets: 30, bytes: 10000, deltaPackets: 6, deltaBytes: 2000, pps: 6, bps: 16000 },
        { key: 'tcp 10.0.0.1:40001 10.0.0.2:443', flows: 1, packets: 1, bytes: 60, deltaPackets: 1, deltaBytes: 60, pps: 1, bps: 480 },
        { key: 'udp 10.0.0.1:5000 8.8.8.8:53', flows: 1, packets: 1, bytes: 80, deltaPackets: 0, deltaBytes: 0, pps: 0, bps: 0 },
        { key: 'icmpv6 fe80::1 fe80::2', flows: 2, packets: 6, bytes: 600, deltaPackets: 6, deltaBytes: 600, pps: 6, bps: 4800 },
      ],
    },
    {
      mode: 'host-conversation',
      want: [
        { key: '10.0.0.1 10.0.0.2', flows: 3, packets: 31, bytes: 10060, deltaPackets: 7, deltaBytes: 2060, pps: 7, bps: 16480 },
        { key: '10.0.0.1 8.8.8.8', flows: 1, packets: 1, bytes: 80, deltaPackets: 0, deltaBytes: 0, pps: 0, bps: 0 },
        { key: 'fe80::1 fe80::2', flows: 2, packets: 6, bytes: 600, deltaPackets: 6, deltaBytes: 600, pps: 6, bps: 4800 },
      ],
    },
    {
      mode: 'proto',
      want: [
        { key: 'tcp', flows: 3, packets: 31, bytes: 10060, deltaPackets: 7, deltaBytes: 2060, pps: 7, bps: 16480 },
        { key: 'udp', flows: 1, packets: 1, bytes: 80, deltaPackets: 0, deltaBytes: 0, pps: 0, bps: 0 },
        { key: 'icmpv6', flows: 2, packets: 6, bytes: 600, deltaPackets: 6, deltaBytes: 600, pps: 6, bps: 4800 },
      ],
    },
  ];
  for (const c of cases) {
    it(c.mode, () => assert.deepEqual(summary(aggregate(ROWS, c.mode)), c.want));
  }

  it('flow mode is one row per flow with every label', () => {
    const rows = aggregate(ROWS, 'flow');
    assert.equal(rows.length, ROWS.length);
    for (const [i, row] of rows.entries()) {
      const src = ROWS[i] as FlowRate;
      assert.deepEqual(row, {
        key: src.key,
        family: src.family,
        proto: src.proto,
        src: src.src,
        dst: src.dst,
        sport: src.sport,
        dport: src.dport,
        dir: src.dir,
        ifname: src.ifname,
        port: undefined,
        packets: src.packets,
        bytes: src.bytes,
        deltaPackets: src.deltaPackets,
        deltaBytes: src.deltaBytes,
        pps: src.pps,
        bps: src.bps,
        pps2: src.pps2,
        bps2: src.bps2,
        pps10: src.pps10,
        bps10: src.bps10,
        pps40: src.pps40,
        bps40: src.bps40,
        ingress: src.dir === 'ingress' ? traffic(src) : traffic(rate()),
        egress: src.dir === 'egress' ? traffic(src) : traffic(rate()),
        flows: 1,
        firstSeenNs: src.firstSeenNs,
        lastSeenNs: src.lastSeenNs,
        tcpFlags: src.tcpFlags,
      });
    }
  });

  for (const mode of AGGREGATE_MODES) {
    it(`${mode}: empty input gives no rows`, () => assert.deepEqual(aggregate([], mode), []));
    it(`${mode}: totals are preserved`, () => {
      const rows = aggregate(ROWS, mode);
      const sum = (list: readonly { packets: number; bps: number; flows?: number }[], f: 'packets' | 'bps') =>
        list.reduce((acc, r) => acc + r[f], 0);
      assert.equal(sum(rows, 'packets'), sum(ROWS, 'packets'));
      assert.equal(sum(rows, 'bps'), sum(ROWS, 'bps'));
      assert.equal(rows.reduce((acc, r) => acc + r.flows, 0), ROWS.length);
    });
  }
});

describe('aggregate: labels, times and flags', () => {
  const pick = (row: AggRow | undefined) =>
    row && {
      family: row.family,
      proto: row.proto,
      src: row.src,
      dst: row.dst,
      sport: row.sport,
      dport: row.dport,
      dir: row.dir,
      ifname: row.ifname,
      port: row.port,
      firstSeenNs: row.firstSeenNs,
      lastSeenNs: row.lastSeenNs,
      tcpFlags: row.tcpFlags,
    };
  const cases: { name: string; mode: AggregateMode; key: string; want: ReturnType<typeof pick> }[] = [
    {
      name: 'src group keeps what its flows share and clears what varies',
      mode: 'src',
      key: '10.0.0.1',
      want: { family: 4, proto: undefined, src: '10.0.0.1', dst: undefined, sport: undefined, dport: undefined, dir: 'egress', ifname: 'eth0', port: undefined, firstSeenNs: 10, lastSeenNs: 90, tcpFlags: 0x13 },
    },
    {
      name: 'pair group: same ports on one side kept',
      mode: 'pair',
      key: '10.0.0.1 10.0.0.2',
      want: { family: 4, proto: 6, src: '10.0.0.1', dst: '10.0.0.2', sport: undefined, dport: 443, dir: 'egress', ifname: 'eth0', port: undefined, firstSeenNs: 10, lastSeenNs: 90, tcpFlags: 0x13 },
    },
    {
      name: 'port group spans both directions',
      mode: 'port',
      key: 'tcp/443',
      want: { family: 4, proto: 6, src: undefined, dst: undefined, sport: undefined, dport: undefined, dir: undefined, ifname: 'eth0', port: 443, firstSeenNs: 10, lastSeenNs: 95, tcpFlags: 0x13 },
    },
    {
      name: 'conversation: the local end first, whichever direction a flow was counted in',
      mode: 'conversation',
      key: 'tcp 10.0.0.1:40000 10.0.0.2:443',
      want: { family: 4, proto: 6, src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 443, dir: undefined, ifname: 'eth0', port: undefined, firstSeenNs: 50, lastSeenNs: 95, tcpFlags: 0x12 },
    },
    {
      name: 'ICMP conversation: type and code differ by direction, so no ports',
      mode: 'conversation',
      key: 'icmpv6 fe80::1 fe80::2',
      want: { family: 6, proto: 58, src: 'fe80::1', dst: 'fe80::2', sport: undefined, dport: undefined, dir: undefined, ifname: 'wlan0', port: undefined, firstSeenNs: 5, lastSeenNs: 99, tcpFlags: 0 },
    },
    {
      name: 'portless protocol in port mode: no port',
      mode: 'port',
      key: 'icmpv6',
      want: { family: 6, proto: 58, src: undefined, dst: undefined, sport: 0, dport: undefined, dir: undefined, ifname: 'wlan0', port: undefined, firstSeenNs: 5, lastSeenNs: 99, tcpFlags: 0 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(pick(aggregate(ROWS, c.mode).find((r) => r.key === c.key)), c.want));
  }
});

describe('aggregate: in and out', () => {
  it('a conversation keeps what came in and what went out apart, and their sum', () => {
    const row = aggregate(WINDOWED, 'conversation')[0];
    assert.deepEqual([row?.ingress.bytes, row?.egress.bytes, row?.bytes], [9000, 1000, 10000]);
    assert.deepEqual([row?.ingress.bps10, row?.egress.bps10, row?.bps10], [800, 80, 880]);
    assert.deepEqual([row?.ingress.pps40, row?.egress.pps2, row?.pps40], [4, 1, 6]);
  });

  it('every window adds up', () => {
    const row = aggregate(WINDOWED, 'proto')[0];
    assert.deepEqual([row?.pps2, row?.bps2, row?.pps10, row?.bps10, row?.pps40, row?.bps40], [3, 300, 6, 880, 6, 1100]);
  });
});

describe('servicePort', () => {
  const cases: [number, number, number, number | undefined][] = [
    [6, 40000, 443, 443],
    [6, 443, 40000, 443],
    [17, 53, 53, 53],
    [132, 3868, 40000, 3868],
    [136, 9, 1000, 9],
    [1, 0, 0x0800, undefined],
    [47, 0, 0, undefined],
  ];
  for (const [proto, sport, dport, want] of cases) {
    it(`proto ${proto} ${sport}->${dport}: ${want}`, () => assert.equal(servicePort({ proto, sport, dport }), want));
  }
});

describe('sorting aggregated rows', () => {
  it('topN works on AggRow', () => {
    const rows = aggregate(ROWS, 'proto');
    assert.deepEqual(topN(rows, 'bps', true, 2).map((r) => r.key), ['tcp', 'icmpv6']);
    assert.deepEqual(topN(rows, 'dport', false, 3).map((r) => r.key), ['udp', 'icmpv6', 'tcp']);
  });

  it('AGGREGATE_MODES cycles through every mode once, flow first', () => {
    assert.deepEqual(AGGREGATE_MODES, ['flow', 'src', 'dst', 'pair', 'port', 'proto', 'conversation', 'host-conversation', 'process', 'cgroup']);
  });
});

describe('aggregate: by process and by cgroup', () => {
  const a = { pid: 10, comm: 'curl', uid: 0, user: 'root', cgroup: '/user.slice/u.scope', container: 'u' };
  const b = { pid: 11, comm: 'wget', uid: 0, user: 'root', cgroup: '/user.slice/u.scope', container: 'u' };
  const rows = [
    rate({ key: '1', owner: a, bytes: 100 }),
    rate({ key: '2', owner: a, bytes: 10 }),
    rate({ key: '3', owner: b, bytes: 1 }),
    rate({ key: '4', owner: null, bytes: 1000 }),
  ];
  it('process: one group per process, flows without an owner in "-"', () => {
    const groups = aggregate(rows, 'process');
    assert.deepEqual(groups.map((g) => [g.key, g.flows, g.bytes, g.owner?.pid ?? g.owner]), [['10 curl', 2, 110, 10], ['11 wget', 1, 1, 11], ['-', 1, 1000, null]]);
  });
  it('cgroup: one group per cgroup path, its processes mixed', () => {
    const groups = aggregate(rows, 'cgroup');
    assert.deepEqual(groups.map((g) => [g.key, g.flows, g.cgroup, g.owner]), [['/user.slice/u.scope', 3, '/user.slice/u.scope', undefined], ['-', 1, null, null]]);
  });
  it('rows without owners (--no-processes) give groups without them', () => {
    const [g] = aggregate([rate({ key: '1' })], 'proto');
    assert.equal('owner' in g!, false);
  });
});
