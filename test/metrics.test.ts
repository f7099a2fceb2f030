/**
 * The exporter on scripted samples: the exposition text (both formats) after ticks from the real
 * run loop over a ScriptedCollector, top-K with the `other` aggregate, the exporter as one of the
 * loop's consumers, the HTTP server, and the --metrics address syntax.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { ScriptedCollector } from '../src/collectors/scripted-collector.js';
import type { FlowRecord, Snapshot } from '../src/model/types.js';
import { parseListenAddress } from '../src/output/listen-address.js';
import { TcTopMetrics } from '../src/output/metrics.js';
import { startMetricsExporter } from '../src/output/metrics-server.js';
import type { TickData } from '../src/model/rows.js';
import { at, HOOKS, loopOf, tcp, ticksOf } from './helpers/ui-fixtures.js';

/** Sample lines as 'name{labels}' → value (labels as exposed, in order). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

const PROM = 'text/plain';
const OPEN = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

async function text(m: TcTopMetrics, accept = PROM): Promise<string> {
  return (await m.exposition(accept)).body;
}

function flowSeries(proto: string, src: string, sport: string, dst: string, dport: string, dir = 'egress', ifname = 'eth0'): string {
  return `{interface="${ifname}",direction="${dir}",proto="${proto}",src="${src}",sport="${sport}",dst="${dst}",dport="${dport}"}`;
}
const OTHER_OUT = '{interface="eth0",direction="egress",proto="other",src="",sport="",dst="",dport=""}';
const OTHER_IN = '{interface="eth0",direction="ingress",proto="other",src="",sport="",dst="",dport=""}';

describe('TcTopMetrics', () => {
  it('starts with every known series at 0', async () => {
    const s = samples(await text(new TcTopMetrics({ topK: 50, hooks: HOOKS })));
    assert.equal(s.get('tctop_packets_total{direction="ingress"}'), 0);
    assert.equal(s.get('tctop_bytes_total{direction="egress"}'), 0);
    assert.equal(s.get('tctop_interface_bytes_total{interface="eth0",direction="ingress"}'), 0);
    assert.equal(s.get('tctop_interface_bytes_total{interface="eth0",direction="egress"}'), 0);
    assert.equal(s.get(`tctop_flow_bytes_total${OTHER_IN}`), 0);
    assert.equal(s.get('tctop_hook_attached{interface="eth0",hook="tc",direction="ingress",mode="tcx"}'), 1);
  });

  it('exposes kernel counters, per-interface sums, and the top-K flows plus `other`', async () => {
    // f1 sends 1000 B/s, f2 300 B/s, f3 100 B/s (all egress, eth0); a 40-byte ingress ICMP echo once.
    const icmp: FlowRecord = { ...tcp(9, 84, 1), key: 'f9', proto: 1, src: '192.0.2.1', dst: '10.0.0.9', sport: 0, dport: 8 * 256, dir: 'ingress' };
    const snaps = [0, 1, 2].map((s) =>
      at(s, [tcp(1, 1000 * s, 10 * s), tcp(2, 300 * s, 3 * s), tcp(3, 100 * s, s), ...(s > 0 ? [icmp] : [])]),
    );
    const withCounters = snaps.map((snap, s) => ({
      ...snap,
      counters: { ...snap.counters, nonIp: s, nonIpBytes: 60 * s, malformed: 2 * s, malformedBytes: 30 * s, updateFailed: 0, flowsCreated: 4 },
    }));
    const m = new TcTopMetrics({ topK: 2, hooks: HOOKS });
    for (const tick of ticksOf(withCounters)) m.update(tick);

    const prom = await text(m);
    const s = samples(prom);
    assert.match(prom, /^# HELP tctop_bytes_total /m);
    assert.match(prom, /^# TYPE tctop_bytes_total counter$/m);
    assert.match(prom, /^# TYPE tctop_flows gauge$/m);
    // Kernel totals as the snapshot carries them (ui-fixtures sums the flows into the counters).
    assert.equal(s.get('tctop_bytes_total{direction="egress"}'), 2800);
    assert.equal(s.get('tctop_packets_total{direction="egress"}'), 28);
    assert.equal(s.get('tctop_bytes_total{direction="ingress"}'), 84);
    assert.equal(s.get('tctop_non_ip_packets_total'), 2);
    assert.equal(s.get('tctop_non_ip_bytes_total'), 120);
    assert.equal(s.get('tctop_malformed_packets_total'), 4);
    assert.equal(s.get('tctop_malformed_bytes_total'), 60);
    assert.equal(s.get('tctop_update_failed_packets_total'), 0);
    assert.equal(s.get('tctop_flows_created_total'), 4);
    assert.equal(s.get('tctop_flows'), 4);
    assert.equal(s.get('tctop_flows_max'), 65536);
    assert.equal(s.get('tctop_flow_evictions_total'), 0);
    assert.equal(s.get('tctop_last_sample_timestamp_seconds'), Date.UTC(2024, 0, 2, 3, 4, 7) / 1000);
    // Sums of the flows' deltas since the first snapshot (the Sampler primed on it).
    assert.equal(s.get('tctop_interface_bytes_total{interface="eth0",direction="egress"}'), 2800);
    assert.equal(s.get('tctop_interface_packets_total{interface="eth0",direction="egress"}'), 28);
    assert.equal(s.get('tctop_interface_bytes_total{interface="eth0",direction="ingress"}'), 84);
    // Top 2 by rate: f1 and f2, cumulative; f3 and the ICMP flow (rate 0 in the last interval) are `other`.
    assert.equal(s.get(`tctop_flow_bytes_total${flowSeries('tcp', '10.0.0.1', '40001', '192.0.2.1', '443')}`), 2000);
    assert.equal(s.get(`tctop_flow_packets_total${flowSeries('tcp', '10.0.0.2', '40002', '192.0.2.1', '443')}`), 6);
    assert.equal([...s.keys()].filter((k) => k.startsWith('tctop_flow_bytes_total{') && !k.includes('proto="other"')).length, 2);
    assert.equal(s.get(`tctop_flow_bytes_total${OTHER_OUT}`), 200, 'f3: 100 B in each interval');
    assert.equal(s.get(`tctop_flow_bytes_total${OTHER_IN}`), 84, 'the ICMP flow, new in the first interval');
    assert.equal(s.get(`tctop_flow_packets_total${OTHER_OUT}`), 2);
  });

  it('labels ICMP with its type and code in dport and no sport', async () => {
    const icmp: FlowRecord = { ...tcp(1, 0, 0), proto: 1, src: '10.0.0.1', dst: '10.0.0.2', sport: 0, dport: 8 * 256, dir: 'ingress' };
    const m = new TcTopMetrics({ topK: 5, hooks: HOOKS });
    for (const tick of ticksOf([at(0, [icmp]), at(1, [{ ...icmp, packets: 3, bytes: 252 }])])) m.update(tick);
    const s = samples(await text(m));
    assert.equal(s.get(`tctop_flow_bytes_total${flowSeries('icmp', '10.0.0.1', '', '10.0.0.2', '2048', 'ingress')}`), 252);
  });

  it('moves a flow between its own series and `other` as its rate changes', async () => {
    // f2 overtakes f1 in the third interval.
    const snaps = [at(0, [tcp(1, 0, 0), tcp(2, 0, 0)]), at(1, [tcp(1, 1000, 1), tcp(2, 10, 1)]), at(2, [tcp(1, 1100, 2), tcp(2, 5010, 2)])];
    const m = new TcTopMetrics({ topK: 1, hooks: HOOKS });
    const [t1, t2] = ticksOf(snaps) as [TickData, TickData];
    m.update(t1);
    let s = samples(await text(m));
    assert.equal(s.get(`tctop_flow_bytes_total${flowSeries('tcp', '10.0.0.1', '40001', '192.0.2.1', '443')}`), 1000);
    assert.equal(s.get(`tctop_flow_bytes_total${OTHER_OUT}`), 10);
    m.update(t2);
    s = samples(await text(m));
    assert.equal(s.get(`tctop_flow_bytes_total${flowSeries('tcp', '10.0.0.1', '40001', '192.0.2.1', '443')}`), undefined, 'f1 left the top');
    assert.equal(s.get(`tctop_flow_bytes_total${flowSeries('tcp', '10.0.0.2', '40002', '192.0.2.1', '443')}`), 5010);
    assert.equal(s.get(`tctop_flow_bytes_total${OTHER_OUT}`), 110, "`other` only grows: f2's first 10 B, then f1's 100 B");
    assert.equal(s.get('tctop_interface_bytes_total{interface="eth0",direction="egress"}'), 6110);
  });

  it('with K = 0 has only the `other` series', async () => {
    const m = new TcTopMetrics({ topK: 0, hooks: HOOKS });
    for (const tick of ticksOf([at(0, [tcp(1, 0, 0)]), at(1, [tcp(1, 500, 5)])])) m.update(tick);
    const flowLines = (await text(m)).split('\n').filter((l) => l.startsWith('tctop_flow_bytes_total{'));
    assert.deepEqual(flowLines, [`tctop_flow_bytes_total${OTHER_IN} 0`, `tctop_flow_bytes_total${OTHER_OUT} 500`]);
  });

  it('counts drops by interface and reason from the load on, and gauges the RTT of the top-K flows that have one', async () => {
    const health = (drops: number, rtt: number) => ({
      entries: [
        { id: 's', flows: ['f1'], rtt: { last: rtt, min: rtt, max: rtt }, retrans: 0 },
        { id: 'd1', flows: ['f2'], ifname: 'eth0', drops: new Map([['NETFILTER_DROP', drops], ['NO_SOCKET', 2]]) },
        { id: 'd2', flows: ['not-in-the-table'], ifname: 'eth1', drops: new Map([['SOCKET_RCVBUFF', drops]]) },
      ],
      rtt: true,
      retrans: true,
      drops: true,
    });
    const m = new TcTopMetrics({ topK: 1, hooks: HOOKS });
    const ticks = ticksOf([
      { ...at(0, [tcp(1, 0, 0), tcp(2, 0, 0)]), health: health(1, 1000) },
      { ...at(1, [tcp(1, 900, 9), tcp(2, 100, 1)]), health: health(4, 2500) },
      { ...at(2, [tcp(1, 1800, 18), tcp(2, 200, 2)]), health: { ...health(0, 3000), entries: health(0, 3000).entries.slice(0, 1) } },
      { ...at(3, [tcp(1, 2700, 27), tcp(2, 300, 3)]), health: health(5, 2000) },
    ]);
    for (const tick of ticks) m.update(tick);
    const s = samples(await text(m));
    // The ticks after the first read (the baseline here): 1 -> 4 is 3, then the entries went
    // (evicted) and came back with 5: 3 + 5.
    assert.equal(s.get('tctop_drops_total{interface="eth0",reason="NETFILTER_DROP"}'), 8);
    assert.equal(s.get('tctop_drops_total{interface="eth0",reason="NO_SOCKET"}'), 2);
    assert.equal(s.get('tctop_drops_total{interface="eth1",reason="SOCKET_RCVBUFF"}'), 8, 'a drop in no flow of the table counts too');
    assert.equal(s.get(`tctop_flow_rtt_seconds${flowSeries('tcp', '10.0.0.1', '40001', '192.0.2.1', '443')}`), 0.002);
    assert.equal([...s.keys()].filter((k) => k.startsWith('tctop_flow_rtt_seconds')).length, 1, 'only the top K');
  });

  const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
  it('passes promtool\'s naming lint', promtool || process.env.CI === 'true' ? {} : { skip: 'promtool (Debian package prometheus) is not installed' }, async () => {
    const m = new TcTopMetrics({ topK: 2, hooks: HOOKS });
    for (const tick of ticksOf([at(0, [tcp(1, 0, 0), tcp(2, 0, 0), tcp(3, 0, 0)]), at(1, [tcp(1, 100, 1), tcp(2, 50, 1), tcp(3, 10, 1)])])) m.update(tick);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: await text(m), encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.equal(check.stdout + check.stderr, '', 'no lint warnings');
  });

  it('speaks OpenMetrics when asked: counter families without _total, samples with it, and # EOF', async () => {
    const m = new TcTopMetrics({ topK: 50, hooks: HOOKS });
    for (const tick of ticksOf([at(0, [tcp(1, 0, 0)]), at(1, [tcp(1, 500, 5)])])) m.update(tick);
    const { contentType, body } = await m.exposition(OPEN);
    assert.match(contentType, /^application\/openmetrics-text; version=1\.0\.0/);
    assert.match(body, /^# TYPE tctop_bytes counter$/m);
    assert.match(body, /^tctop_bytes_total\{direction="egress"\} 500$/m);
    assert.match(body, /^# TYPE tctop_flows gauge$/m);
    assert.ok(body.endsWith('# EOF\n'), 'ends with # EOF');
    assert.match((await m.exposition(undefined)).contentType, /^text\/plain; version=0\.0\.4/);
  });
});

describe('the exporter as a run loop consumer', () => {
  it('takes the baseline, then the same ticks as the view, after their expiry', () => {
    // f1 is idle from second 1 on; with a 1.5 s timeout the loop expires it at second 3.
    const script: Snapshot[] = [0, 1, 2, 3, 4].map((s) =>
      at(s, [tcp(1, 700, 7, { lastSeenNs: 1e9 }), tcp(2, 100 * (s + 1), s + 1, { lastSeenNs: s * 1e9 })]),
    );
    const loop = loopOf(new ScriptedCollector(script, { hooks: HOOKS }), { intervalS: 1, count: undefined, idleTimeoutS: 1.5 });
    const exported: TickData[] = [];
    const viewed: TickData[] = [];
    // Both keep every tick to look at afterwards: they hold them (no tick is retired).
    loop.subscribe({ baseline: (t) => exported.push(t), tick: (t) => exported.push(t), holds: () => true });
    loop.subscribe({ tick: (t) => viewed.push(t) });
    for (let i = 0; i < 4; i++) loop.step();

    assert.equal(exported.length, 5, 'the baseline, then one per tick');
    assert.deepEqual(
      exported[0]!.rates.map((r) => [r.key, r.deltaBytes]),
      [
        ['f1', 700],
        ['f2', 100],
      ],
      'the baseline counts everything since the load',
    );
    assert.ok(exported.slice(1).every((t, i) => t === viewed[i]), 'the very ticks the view gets: one advance per tick');
    assert.equal(viewed[2]!.expired.length, 1, 'f1 expired at second 3');
    assert.deepEqual(exported[3]!.rates.map((r) => r.key), ['f2']);
    assert.equal(exported[3]!.snapshot.flowsDeleted, 1);
    assert.equal(exported[4]!.snapshot.flowsDeleted, 1, 'counted once');
    assert.equal(exported[4]!.rates[0]!.deltaBytes, 100);
  });

  it('sums the interface counters from the load on', async () => {
    const scripted = new ScriptedCollector([at(0, [tcp(1, 300, 3)]), at(1, [tcp(1, 1300, 13)])], { hooks: HOOKS });
    const exporter = await startMetricsExporter({ hooks: HOOKS, listen: { host: '127.0.0.1', port: 0 }, topK: 50 });
    try {
      const loop = loopOf(scripted, { intervalS: 1, count: undefined, idleTimeoutS: 30 });
      loop.subscribe(exporter.consumer);
      loop.step();
      const s = samples(await text(exporter.metrics));
      assert.equal(s.get('tctop_interface_bytes_total{interface="eth0",direction="egress"}'), 1300, 'the 300 B before the first interval too');
    } finally {
      await exporter.close();
    }
  });
});

describe('startMetricsExporter', () => {
  it('serves /metrics on the address given, in the format asked for, and closes', async () => {
    const scripted = new ScriptedCollector([at(0, [tcp(1, 0, 0)]), at(1, [tcp(1, 4242, 3)])], { hooks: HOOKS });
    const exporter = await startMetricsExporter({ hooks: HOOKS, listen: { host: '127.0.0.1', port: 0 }, topK: 50 });
    try {
      assert.match(exporter.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const loop = loopOf(scripted, { intervalS: 1, count: undefined, idleTimeoutS: 30 });
      loop.subscribe(exporter.consumer);
      loop.step();
      const res = await fetch(exporter.url);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      assert.match(await res.text(), /^tctop_bytes_total\{direction="egress"\} 4242$/m);
      const om = await fetch(exporter.url, { headers: { accept: OPEN } });
      assert.match(om.headers.get('content-type') ?? '', /^application\/openmetrics-text/);
      assert.match(await om.text(), /# EOF\n$/);
      assert.equal((await fetch(exporter.url.replace('/metrics', '/nope'))).status, 404);
      assert.equal((await fetch(exporter.url, { method: 'POST' })).status, 405);
    } finally {
      await exporter.close();
    }
    await assert.rejects(fetch(exporter.url), 'nothing listens after close');
  });

  it('says which address is taken and what to do', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(
        startMetricsExporter({ hooks: [], listen: { host: '127.0.0.1', port }, topK: 50 }),
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} for --metrics: EADDRINUSE \\(the port is taken: pick another with --metrics ADDR:PORT\\)`),
      );
    } finally {
      blocker.close();
    }
  });
});

describe('parseListenAddress', () => {
  const cases: readonly [string, string | { host: string; port: number }][] = [
    ['', { host: '127.0.0.1', port: 9464 }],
    ['9100', { host: '127.0.0.1', port: 9100 }],
    [':9100', { host: '127.0.0.1', port: 9100 }],
    ['0.0.0.0:9100', { host: '0.0.0.0', port: 9100 }],
    ['10.1.2.3', { host: '10.1.2.3', port: 9464 }],
    ['localhost:8080', { host: 'localhost', port: 8080 }],
    ['[::1]:9100', { host: '::1', port: 9100 }],
    ['[::]', { host: '::', port: 9464 }],
    ['::1', { host: '::1', port: 9464 }],
    ['127.0.0.1:0', "'127.0.0.1:0' has no valid port"],
    ['127.0.0.1:65536', 'has no valid port'],
    ['127.0.0.1:http', 'has no valid port'],
    ['[10.0.0.1]:80', 'has no IPv6 address in its brackets'],
    ['fe80::1:zz', 'without brackets'],
    ['a b:80', 'has no valid host'],
  ];
  for (const [input, want] of cases) {
    it(`'${input}'`, () => {
      const got = parseListenAddress(input);
      if (typeof want === 'string') {
        assert.ok(!got.ok);
        assert.ok(got.error.includes(want), got.error);
        assert.match(got.error, /use ADDR:PORT/);
      } else {
        assert.deepEqual(got, { ok: true, address: want });
      }
    });
  }
});

describe('the process label', () => {
  it("labels a top-K flow with its process, comm[pid] ('' for none), and adds no label without owners", async () => {
    const { addressSortKey } = await import('../src/model/address.js');
    const { tupleKey } = await import('../src/model/owners.js');
    const owners = {
      table: [{ pid: 31, comm: 'curl', uid: 0, user: 'root', cgroup: '/', container: undefined }],
      byTuple: new Map([[tupleKey(6, addressSortKey('10.0.0.1'), 40001, addressSortKey('192.0.2.1'), 443), 0]]),
      local: new Set<string>(),
    };
    const snaps = [0, 1].map((s) => ({ ...at(s, [tcp(1, 1000 * s, 10 * s), tcp(2, 300 * s, 3 * s)]), owners }));
    const m = new TcTopMetrics({ topK: 50, hooks: HOOKS });
    m.update(ticksOf(snaps)[0]!);
    const s = samples(await text(m));
    const with_ = (series: string, process: string) => series.replace(/\}$/, `,process="${process}"}`);
    assert.equal(s.get(`tctop_flow_bytes_total${with_(flowSeries('tcp', '10.0.0.1', '40001', '192.0.2.1', '443'), 'curl[31]')}`), 1000);
    assert.equal(s.get(`tctop_flow_bytes_total${with_(flowSeries('tcp', '10.0.0.2', '40002', '192.0.2.1', '443'), '')}`), 300);
    assert.equal(s.get(`tctop_flow_bytes_total${OTHER_OUT}`), 0, 'the other series has no process label');
  });
});
