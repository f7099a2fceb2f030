import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregate, compareBy, SORT_FIELDS, sortKey, sortRows, topN } from '../src/model/index.js';
import type { FlowRate, SortField, SortKey, SortRow, Window } from '../src/model/index.js';
import { prng, rate } from './helpers/model-fixtures.js';

const keys = (rows: readonly SortRow[]): string[] => rows.map((r) => r.key);

describe('sortRows', () => {
  const rows: FlowRate[] = [
    rate({ key: 'a', packets: 5, bytes: 500, pps: 1, bps: 80, src: '10.0.0.10', dst: '2001:db8::1', sport: 9, dport: 80, proto: 17, dir: 'ingress', firstSeenNs: 30, lastSeenNs: 300 }),
    rate({ key: 'b', packets: 9, bytes: 100, pps: 3, bps: 10, src: '10.0.0.9', dst: '10.0.0.1', sport: 1000, dport: 443, proto: 6, dir: 'egress', firstSeenNs: 10, lastSeenNs: 100 }),
    rate({ key: 'c', packets: 5, bytes: 900, pps: 2, bps: 90, src: '::1', dst: '10.0.0.2', sport: 80, dport: 22, proto: 1, dir: 'ingress', firstSeenNs: 20, lastSeenNs: 200 }),
  ];
  const cases: { field: SortField; descending: boolean; want: string[] }[] = [
    { field: 'packets', descending: true, want: ['b', 'a', 'c'] }, // a and c tie: key ascending
    { field: 'packets', descending: false, want: ['a', 'c', 'b'] },
    { field: 'bytes', descending: true, want: ['c', 'a', 'b'] },
    { field: 'pps', descending: true, want: ['b', 'c', 'a'] },
    { field: 'bps', descending: false, want: ['b', 'a', 'c'] },
    { field: 'src', descending: false, want: ['b', 'a', 'c'] }, // numeric, IPv4 before IPv6
    { field: 'src', descending: true, want: ['c', 'a', 'b'] },
    { field: 'dst', descending: false, want: ['b', 'c', 'a'] },
    { field: 'sport', descending: false, want: ['a', 'c', 'b'] },
    { field: 'dport', descending: true, want: ['b', 'a', 'c'] },
    { field: 'proto', descending: false, want: ['c', 'b', 'a'] },
    { field: 'dir', descending: false, want: ['b', 'a', 'c'] },
    { field: 'age', descending: true, want: ['b', 'c', 'a'] }, // oldest first
    { field: 'age', descending: false, want: ['a', 'c', 'b'] },
    { field: 'last_seen', descending: true, want: ['a', 'c', 'b'] },
  ];
  for (const c of cases) {
    it(`${c.field} ${c.descending ? 'desc' : 'asc'}`, () => assert.deepEqual(keys(sortRows(rows, c.field, c.descending)), c.want));
  }

  it('returns a copy and leaves the input alone', () => {
    const before = keys(rows);
    const sorted = sortRows(rows, 'packets', true);
    assert.notEqual(sorted, rows);
    assert.deepEqual(keys(rows), before);
  });

  it('every field in SORT_FIELDS is handled and listed once', () => {
    assert.equal(new Set(SORT_FIELDS).size, SORT_FIELDS.length);
    assert.equal(SORT_FIELDS.length, 17);
    for (const field of SORT_FIELDS) assert.equal(sortRows(rows, field, true).length, rows.length);
  });

  it('empty input', () => assert.deepEqual(sortRows([], 'bps', true), []));
});

describe('compareBy on aggregated rows', () => {
  it('labels that vary within a group sort last in either direction', () => {
    const groups = aggregate(
      [
        rate({ key: 'x1', src: '10.0.0.1', dport: 80 }),
        rate({ key: 'x2', src: '10.0.0.1', dport: 443 }), // src group 10.0.0.1: dport varies
        rate({ key: 'y', src: '10.0.0.2', dport: 22 }),
        rate({ key: 'z', src: '10.0.0.3', dport: 8080 }),
      ],
      'src',
    );
    assert.deepEqual(keys(sortRows(groups, 'dport', false)), ['10.0.0.2', '10.0.0.3', '10.0.0.1']);
    assert.deepEqual(keys(sortRows(groups, 'dport', true)), ['10.0.0.3', '10.0.0.2', '10.0.0.1']);
  });

  it('NaN sorts as missing instead of breaking the order', () => {
    const rows = [rate({ key: 'a', pps: Number.NaN }), rate({ key: 'b', pps: 1 }), rate({ key: 'c', pps: 2 })];
    assert.deepEqual(keys(sortRows(rows, 'pps', true)), ['c', 'b', 'a']);
    assert.deepEqual(keys(sortRows(rows, 'pps', false)), ['b', 'c', 'a']);
  });

  it('is antisymmetric and zero only for the same key', () => {
    const cmp = compareBy<SortRow>('bytes', true);
    const a = rate({ key: 'a', bytes: 1 });
    const b = rate({ key: 'b', bytes: 1 });
    assert.equal(cmp(a, b), -1);
    assert.equal(cmp(b, a), 1);
    assert.equal(cmp(a, a), 0);
  });
});

describe('topN', () => {
  const random = prng(42);
  const addr = (): string =>
    random() < 0.5 ? `10.0.${Math.floor(random() * 4)}.${Math.floor(random() * 4)}` : `2001:db8::${Math.floor(random() * 16).toString(16)}`;
  // Small value ranges so that ties (and the key tie-break) are common.
  const rows: FlowRate[] = Array.from({ length: 2000 }, (_, i) =>
    rate({
      key: `k${(i * 7919) % 2000}`,
      packets: Math.floor(random() * 20),
      bytes: Math.floor(random() * 50),
      pps: Math.floor(random() * 10) / 2,
      bps: random() * 1000,
      src: addr(),
      dst: addr(),
      sport: Math.floor(random() * 5),
      dport: Math.floor(random() * 5),
      proto: [1, 6, 17][Math.floor(random() * 3)] as number,
      dir: random() < 0.5 ? 'ingress' : 'egress',
      firstSeenNs: Math.floor(random() * 10),
      lastSeenNs: Math.floor(random() * 10),
    }),
  );

  for (const field of SORT_FIELDS) {
    for (const descending of [true, false]) {
      it(`equals the full sort's head: ${field} ${descending ? 'desc' : 'asc'}`, () => {
        const full = sortRows(rows, field, descending);
        for (const n of [1, 7, 40, 1999, 2000, 5000]) {
          assert.deepEqual(keys(topN(rows, field, descending, n)), keys(full.slice(0, n)), `n=${n}`);
        }
      });
    }
  }

  it('equals a stable full sort even when keys repeat', () => {
    const dup = Array.from({ length: 300 }, (_, i) => rate({ key: `d${i % 5}`, packets: i % 3, bytes: i }));
    const full = sortRows(dup, 'packets', true);
    for (const n of [1, 10, 100]) {
      assert.deepEqual(
        topN(dup, 'packets', true, n).map((r) => r.bytes),
        full.slice(0, n).map((r) => r.bytes),
      );
    }
  });

  const edges: { name: string; n: number; want: number }[] = [
    { name: 'n = 0', n: 0, want: 0 },
    { name: 'negative n', n: -3, want: 0 },
    { name: 'NaN n', n: Number.NaN, want: 0 },
    { name: 'fractional n rounds down', n: 2.9, want: 2 },
    { name: 'Infinity n: everything', n: Number.POSITIVE_INFINITY, want: 2000 },
  ];
  for (const c of edges) {
    it(c.name, () => assert.equal(topN(rows, 'bps', true, c.n).length, c.want));
  }

  it('empty input', () => assert.deepEqual(topN([], 'bps', true, 10), []));

  it('reads each row\'s sort value once, however many comparisons it makes', () => {
    let reads = 0;
    const counted = rows.map((r) => ({
      ...r,
      get src(): string {
        reads++;
        return r.src;
      },
    }));
    topN(counted, 'src', true, 10);
    assert.equal(reads, rows.length);
    reads = 0;
    sortRows(counted, 'src', true);
    assert.equal(reads, rows.length);
  });
});

describe('sortKey: what a field means under a window and a counter mode', () => {
  const cases: [SortField, Window, boolean, SortKey][] = [
    ['bps', 2, true, 'bps2'],
    ['bps', 40, false, 'bps40'],
    ['pps', 10, true, 'pps10'],
    ['packets', 10, true, 'packets'],
    ['packets', 10, false, 'deltaPackets'],
    ['bytes', 2, false, 'deltaBytes'],
    ['src', 40, false, 'src'],
    ['age', 2, true, 'age'],
  ];
  for (const [field, window, cumulative, want] of cases) {
    it(`${field}, ${window} s, ${cumulative ? 'since start' : 'per interval'}: ${want}`, () => assert.equal(sortKey(field, window, cumulative), want));
  }

  it('orders by the chosen window and by interval deltas', () => {
    const rows = [
      rate({ key: 'a', packets: 100, deltaPackets: 1, bps2: 10, bps40: 900 }),
      rate({ key: 'b', packets: 50, deltaPackets: 7, bps2: 500, bps40: 20 }),
    ];
    assert.deepEqual(keys(sortRows(rows, sortKey('bps', 2, true), true)), ['b', 'a']);
    assert.deepEqual(keys(sortRows(rows, sortKey('bps', 40, true), true)), ['a', 'b']);
    assert.deepEqual(keys(sortRows(rows, sortKey('packets', 2, true), true)), ['a', 'b']);
    assert.deepEqual(keys(sortRows(rows, sortKey('packets', 2, false), true)), ['b', 'a']);
  });
});
