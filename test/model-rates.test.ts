import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeRates, computeTotals, expiredFlows, monoToWallMs } from '../src/model/index.js';
import type { FlowRecord, Snapshot } from '../src/model/index.js';
import { counters, flow, snapshot } from './helpers/model-fixtures.js';

const S = 1e9;

function assertFinite(values: readonly number[]): void {
  for (const v of values) assert.ok(Number.isFinite(v), `${v} is not finite`);
}

describe('computeRates', () => {
  const cases: {
    name: string;
    prev: Snapshot | undefined;
    cur: Snapshot;
    want: { key: string; deltaPackets: number; deltaBytes: number; pps: number; bps: number; isNew: boolean }[];
  }[] = [
    {
      name: 'steady flow over one second',
      prev: snapshot({ monoNs: 1 * S, flows: [flow({ packets: 10, bytes: 1000 })] }),
      cur: snapshot({ monoNs: 2 * S, flows: [flow({ packets: 30, bytes: 3000 })] }),
      want: [{ key: 'k1', deltaPackets: 20, deltaBytes: 2000, pps: 20, bps: 16000, isNew: false }],
    },
    {
      name: 'half-second interval doubles the rate',
      prev: snapshot({ monoNs: 1 * S, flows: [flow({ packets: 10, bytes: 1000 })] }),
      cur: snapshot({ monoNs: 1.5 * S, flows: [flow({ packets: 30, bytes: 3000 })] }),
      want: [{ key: 'k1', deltaPackets: 20, deltaBytes: 2000, pps: 40, bps: 32000, isNew: false }],
    },
    {
      name: 'idle flow: zero delta, zero rate',
      prev: snapshot({ monoNs: 1 * S, flows: [flow({ packets: 10, bytes: 1000 })] }),
      cur: snapshot({ monoNs: 2 * S, flows: [flow({ packets: 10, bytes: 1000 })] }),
      want: [{ key: 'k1', deltaPackets: 0, deltaBytes: 0, pps: 0, bps: 0, isNew: false }],
    },
    {
      name: 'zero-length interval: deltas kept, rates 0 (not NaN or Infinity)',
      prev: snapshot({ monoNs: 5 * S, flows: [flow({ packets: 10, bytes: 1000 })] }),
      cur: snapshot({ monoNs: 5 * S, flows: [flow({ packets: 30, bytes: 3000 })] }),
      want: [{ key: 'k1', deltaPackets: 20, deltaBytes: 2000, pps: 0, bps: 0, isNew: false }],
    },
    {
      name: 'clock went backwards: rates 0',
      prev: snapshot({ monoNs: 5 * S, flows: [flow({ packets: 10, bytes: 1000 })] }),
      cur: snapshot({ monoNs: 4 * S, flows: [flow({ packets: 30, bytes: 3000 })] }),
      want: [{ key: 'k1', deltaPackets: 20, deltaBytes: 2000, pps: 0, bps: 0, isNew: false }],
    },
    {
      name: 'counter reset (cur < prev): the delta is the new cumulative value',
      prev: snapshot({ monoNs: 1 * S, flows: [flow({ packets: 100, bytes: 100000 })] }),
      cur: snapshot({ monoNs: 2 * S, flows: [flow({ packets: 5, bytes: 500, firstSeenNs: 1.5 * S })] }),
      want: [{ key: 'k1', deltaPackets: 5, deltaBytes: 500, pps: 5, bps: 4000, isNew: false }],
    },
    {
      name: 'bytes reset while packets did not: both taken whole',
      prev: snapshot({ monoNs: 1 * S, flows: [flow({ packets: 10, bytes: 100000 })] }),
      cur: snapshot({ monoNs: 2 * S, flows: [flow({ packets: 12, bytes: 800 })] }),
      want: [{ key: 'k1', deltaPackets: 12, deltaBytes: 800, pps: 12, bps: 6400, isNew: false }],
    },
    {
      name: 'recreated entry that already counted more than the old one: later firstSeen gives it away',
      prev: snapshot({ monoNs: 1 * S, flows: [flow({ packets: 10, bytes: 1000, firstSeenNs: 0 })] }),
      cur: snapshot({ monoNs: 2 * S, flows: [flow({ packets: 50, bytes: 5000, firstSeenNs: 1.2 * S })] }),
      want: [{ key: 'k1', deltaPackets: 50, deltaBytes: 5000, pps: 50, bps: 40000, isNew: false }],
    },
    {
      name: 'flow appearing: isNew, whole counters over the interval',
      prev: snapshot({ monoNs: 1 * S, flows: [] }),
      cur: snapshot({ monoNs: 3 * S, flows: [flow({ key: 'n', packets: 8, bytes: 800, firstSeenNs: 2.5 * S })] }),
      want: [{ key: 'n', deltaPackets: 8, deltaBytes: 800, pps: 4, bps: 3200, isNew: true }],
    },
    {
      name: 'flow disappearing: absent from the result; the others unaffected',
      prev: snapshot({ monoNs: 1 * S, flows: [flow({ key: 'gone', packets: 9 }), flow({ key: 'k1', packets: 1 })] }),
      cur: snapshot({ monoNs: 2 * S, flows: [flow({ key: 'k1', packets: 3 })] }),
      want: [{ key: 'k1', deltaPackets: 2, deltaBytes: 0, pps: 2, bps: 0, isNew: false }],
    },
    {
      name: 'first read: cumulative over each flow’s lifetime, not flagged new',
      prev: undefined,
      cur: snapshot({
        monoNs: 10 * S,
        flows: [
          flow({ key: 'a', packets: 20, bytes: 2000, firstSeenNs: 8 * S }),
          flow({ key: 'b', packets: 5, bytes: 100, firstSeenNs: 0 }),
        ],
      }),
      want: [
        { key: 'a', deltaPackets: 20, deltaBytes: 2000, pps: 10, bps: 8000, isNew: false },
        { key: 'b', deltaPackets: 5, deltaBytes: 100, pps: 0.5, bps: 80, isNew: false },
      ],
    },
    {
      name: 'first read of a flow born at the read: lifetime floored at 1 ms',
      prev: undefined,
      cur: snapshot({ monoNs: 10 * S, flows: [flow({ packets: 1, bytes: 60, firstSeenNs: 10 * S })] }),
      want: [{ key: 'k1', deltaPackets: 1, deltaBytes: 60, pps: 1000, bps: 480000, isNew: false }],
    },
    {
      name: 'first read of a flow stamped after the read started: also 1 ms',
      prev: undefined,
      cur: snapshot({ monoNs: 10 * S, flows: [flow({ packets: 2, bytes: 100, firstSeenNs: 10 * S + 5000 })] }),
      want: [{ key: 'k1', deltaPackets: 2, deltaBytes: 100, pps: 2000, bps: 800000, isNew: false }],
    },
    { name: 'empty snapshots', prev: snapshot(), cur: snapshot(), want: [] },
    { name: 'empty first read', prev: undefined, cur: snapshot({ monoNs: 1 }), want: [] },
    {
      name: 'everything replaced: all new',
      prev: snapshot({ monoNs: 0, flows: [flow({ key: 'x', packets: 4 })] }),
      cur: snapshot({ monoNs: 2 * S, flows: [flow({ key: 'y', packets: 4 }), flow({ key: 'z', packets: 6 })] }),
      want: [
        { key: 'y', deltaPackets: 4, deltaBytes: 0, pps: 2, bps: 0, isNew: true },
        { key: 'z', deltaPackets: 6, deltaBytes: 0, pps: 3, bps: 0, isNew: true },
      ],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const got = computeRates(c.prev, c.cur);
      assert.deepEqual(
        got.map(({ key, deltaPackets, deltaBytes, pps, bps, isNew }) => ({ key, deltaPackets, deltaBytes, pps, bps, isNew })),
        c.want,
      );
      assertFinite(got.flatMap((r) => [r.deltaPackets, r.deltaBytes, r.pps, r.bps]));
    });
  }

  it('keeps the record fields of the current snapshot', () => {
    const cur = flow({ packets: 9, lastSeenNs: 7, tcpFlags: 0x12, ifname: 'veth1' });
    const [got] = computeRates(snapshot({ flows: [flow()] }), snapshot({ monoNs: S, flows: [cur] }));
    assert.ok(got);
    const { deltaPackets, deltaBytes, pps, bps, isNew, pps2, bps2, pps10, bps10, pps40, bps40, peakPps, peakBps, ...record } = got;
    assert.deepEqual(record, cur);
  });

  it('has one interval of history: every window and the peak at the interval’s rate', () => {
    const [got] = computeRates(snapshot({ flows: [flow()] }), snapshot({ monoNs: 2 * S, flows: [flow({ packets: 10, bytes: 1000 })] }));
    assert.deepEqual(
      [got?.pps2, got?.pps10, got?.pps40, got?.peakPps, got?.bps2, got?.bps10, got?.bps40, got?.peakBps],
      [5, 5, 5, 5, 4000, 4000, 4000, 4000],
    );
  });
});

describe('computeTotals', () => {
  const cases: {
    name: string;
    prev: Snapshot | undefined;
    cur: Snapshot;
    want: Partial<ReturnType<typeof computeTotals>>;
  }[] = [
    {
      name: 'first read: cumulative counts, no rates',
      prev: undefined,
      cur: snapshot({ monoNs: 5 * S, counters: counters({ packetsIn: 10, packetsOut: 4, bytesIn: 1000, bytesOut: 400 }) }),
      want: { packetsIn: 10, packetsOut: 4, bytesIn: 1000, bytesOut: 400, ppsIn: 0, ppsOut: 0, bpsIn: 0, bpsOut: 0 },
    },
    {
      name: 'rates over a two-second interval',
      prev: snapshot({ monoNs: 1 * S, counters: counters({ packetsIn: 100, packetsOut: 50, bytesIn: 1000, bytesOut: 500 }) }),
      cur: snapshot({ monoNs: 3 * S, counters: counters({ packetsIn: 300, packetsOut: 60, bytesIn: 3000, bytesOut: 700 }) }),
      want: { packetsIn: 300, ppsIn: 100, ppsOut: 5, bpsIn: 8000, bpsOut: 800, peakPps: 105, peakBps: 8800 },
    },
    {
      name: 'zero-length interval: rates 0',
      prev: snapshot({ monoNs: 1 * S, counters: counters({ packetsIn: 100 }) }),
      cur: snapshot({ monoNs: 1 * S, counters: counters({ packetsIn: 300 }) }),
      want: { packetsIn: 300, ppsIn: 0, bpsIn: 0 },
    },
    {
      name: 'counters reset (programs reloaded): delta is the new value',
      prev: snapshot({ monoNs: 1 * S, counters: counters({ packetsIn: 1000, bytesIn: 90000 }) }),
      cur: snapshot({ monoNs: 2 * S, counters: counters({ packetsIn: 7, bytesIn: 700 }) }),
      want: { packetsIn: 7, ppsIn: 7, bpsIn: 5600 },
    },
    {
      name: 'evictions: created - live - deleted by tc-top',
      prev: undefined,
      cur: snapshot({ flows: [flow({ key: 'a' }), flow({ key: 'b' }), flow({ key: 'c' })], flowsDeleted: 2, counters: counters({ flowsCreated: 10 }) }),
      want: { activeFlows: 3, evictions: 5 },
    },
    {
      name: 'evictions never negative (map read raced an insertion)',
      prev: undefined,
      cur: snapshot({ flows: [flow({ key: 'a' }), flow({ key: 'b' })], counters: counters({ flowsCreated: 1 }) }),
      want: { activeFlows: 2, evictions: 0 },
    },
    {
      name: 'empty snapshot',
      prev: snapshot(),
      cur: snapshot(),
      want: { activeFlows: 0, evictions: 0, packetsIn: 0, ppsIn: 0, bpsOut: 0 },
    },
    {
      name: 'error counters passed through',
      prev: undefined,
      cur: snapshot({ counters: counters({ nonIp: 3, malformed: 2, updateFailed: 1 }) }),
      want: { nonIp: 3, malformed: 2, updateFailed: 1 },
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const got = computeTotals(c.prev, c.cur);
      const picked = Object.fromEntries(Object.keys(c.want).map((k) => [k, got[k as keyof typeof got]]));
      assert.deepEqual(picked, c.want);
      assertFinite(Object.values(got).flatMap((v) => (typeof v === 'number' ? [v] : Object.values(v))));
    });
  }
});

describe('expiredFlows', () => {
  const flows: FlowRecord[] = [
    flow({ key: 'old', lastSeenNs: 1 * S }),
    flow({ key: 'edge', lastSeenNs: 5 * S }),
    flow({ key: 'fresh', lastSeenNs: 9 * S }),
  ];
  const cases: { name: string; monoNs: number; timeoutNs: number; want: string[] }[] = [
    { name: 'older than the timeout only; exactly at the cutoff is kept', monoNs: 10 * S, timeoutNs: 5 * S, want: ['old'] },
    { name: 'one ns past the cutoff is expired', monoNs: 10 * S, timeoutNs: 5 * S - 1, want: ['old', 'edge'] },
    { name: 'long timeout: none', monoNs: 10 * S, timeoutNs: 60 * S, want: [] },
    { name: 'zero timeout: all but a flow seen at the read', monoNs: 9 * S, timeoutNs: 0, want: ['old', 'edge'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = expiredFlows(snapshot({ monoNs: c.monoNs, flows }), c.timeoutNs);
      assert.deepEqual(got.map((f) => f.key), c.want);
    });
  }
  it('empty snapshot', () => assert.deepEqual(expiredFlows(snapshot({ monoNs: S }), 0), []));
});

describe('monoToWallMs', () => {
  const snap = snapshot({ monoNs: 100 * S, wallMs: 1_700_000_000_000 });
  const cases: { monoNs: number; want: number }[] = [
    { monoNs: 100 * S, want: 1_700_000_000_000 },
    { monoNs: 99 * S, want: 1_699_999_999_000 },
    { monoNs: 100 * S - 1.5e6, want: 1_699_999_999_998.5 },
    { monoNs: 101 * S, want: 1_700_000_001_000 },
  ];
  for (const c of cases) {
    it(`${c.monoNs} ns`, () => assert.equal(monoToWallMs(c.monoNs, snap), c.want));
  }
});
