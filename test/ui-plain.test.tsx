/** The line-oriented views: JSON lines and batch tables carry the rate windows, peaks and groups. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregate } from '../src/model/aggregate.js';
import { batchText, jsonLine, type TickView } from '../src/output/plain.js';
import { at, HOOKS, tcp, ticksOf } from './helpers/ui-fixtures.js';

/** f1 sends 1000 B/s out for 10 s, then 4000 B/s; 192.0.2.1 answers with 500 B/s in. */
const out = (t: number) => tcp(1, 1000 * Math.min(t, 10) + 4000 * Math.max(0, t - 10), 10 * t, { lastSeenNs: t * 1e9 });
const back = (t: number) => tcp(1, 500 * t, 5 * t, { key: 'r1', src: '192.0.2.1', sport: 443, dst: '10.0.0.1', dport: 40001, dir: 'ingress', lastSeenNs: t * 1e9 });
const ticks = ticksOf(Array.from({ length: 13 }, (_, t) => at(t, [out(t), back(t)])));
const last = ticks.at(-1)!;

function view(over: Partial<TickView> = {}): TickView {
  return { ...last, rows: last.rates, aggregate: 'flow', window: 2, interfaces: ['eth0'], hooks: HOOKS, ...over };
}

describe('jsonLine', () => {
  it('gives each flow its rates over the interval, the three windows, and its peak', () => {
    const flow = JSON.parse(jsonLine(view())).flows[0];
    assert.deepEqual([flow.bytes, flow.pps, flow.bps], [18_000, 10, 32_000]);
    assert.deepEqual(flow.windows, {
      '2s': { pps: 10, bps: 32_000 },
      '10s': { pps: 10, bps: ((8 * 1000 + 2 * 4000) * 8) / 10 },
      '40s': { pps: 10, bps: (18_000 * 8) / 12 },
    });
    assert.deepEqual(flow.peak, { pps: 10, bps: 32_000 });
  });

  it('gives the totals their windows per direction and the peak of in + out', () => {
    const totals = JSON.parse(jsonLine(view())).totals;
    assert.deepEqual(totals.windows['2s'], { pps_in: 5, pps_out: 10, bps_in: 4000, bps_out: 32_000 });
    assert.deepEqual(totals.windows['40s'], { pps_in: 5, pps_out: 10, bps_in: 4000, bps_out: (18_000 * 8) / 12 });
    assert.deepEqual(totals.peak, { pps: 15, bps: 36_000 });
  });

  it('with --aggregate, gives groups with in and out instead of flows', () => {
    const line = JSON.parse(jsonLine(view({ aggregate: 'conversation', rows: aggregate(last.rates, 'conversation') })));
    assert.equal(line.flows, undefined);
    assert.equal(line.aggregate, 'conversation');
    const [group] = line.groups;
    assert.deepEqual(
      [group.key, group.flows, group.src, group.sport, group.dst, group.dport, group.dir, group.bytes],
      ['tcp 10.0.0.1:40001 192.0.2.1:443', 2, '10.0.0.1', 40001, '192.0.2.1', 443, null, 24_000],
    );
    assert.deepEqual([group.ingress.bytes, group.egress.bytes], [6000, 18_000]);
    assert.deepEqual([group.ingress.windows['2s'].bps, group.egress.windows['2s'].bps, group.windows['2s'].bps], [4000, 32_000, 36_000]);
  });
});

describe('batchText', () => {
  it('shows RATE and PPS over the chosen window', () => {
    const ten = batchText(view({ window: 10 }));
    assert.match(ten, /interval 1\.00s {2}window 10s /);
    assert.match(ten, /^out: 12\.8 kbit\/s {2}10\.0 pkt\/s {2}total 18 kB 120 pkts {2}peak 36 kbit\/s$/m);
    assert.match(ten, /^tcp +10\.0\.0\.1:40001 +192\.0\.2\.1:443 +out +eth0 +120 +18 kB +10\.0 +12\.8 kbit\/s +150$/m);
    assert.match(batchText(view({ window: 2 })), /^tcp +10\.0\.0\.1:40001 .* 32 kbit\/s +150$/m);
  });

  it('shows groups with their flow count, in and out', () => {
    const text = batchText(view({ aggregate: 'conversation', rows: aggregate(last.rates, 'conversation') }));
    assert.match(text, /^PROTO +SOURCE +DESTINATION +DIR +IFACE +FLOWS +PACKETS +BYTES +IN +OUT +PPS +RATE +AVG$/m);
    assert.match(text, /^tcp +10\.0\.0\.1:40001 +192\.0\.2\.1:443 +\* +eth0 +2 +180 +24 kB +4 kbit\/s +32 kbit\/s +15\.0 +36 kbit\/s +133$/m);
  });
});
