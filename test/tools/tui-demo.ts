/**
 * The TUI over scripted traffic, without a kernel or root: `npx tsx test/tools/tui-demo.ts [flows]`.
 * Flows have steady, bursty and fading rates; new ones appear and old ones go idle and expire
 * (idle timeout 8 s), so every part of the screen has something to show. q quits, D "detaches".
 */
import type { HookInfo } from '../../src/collectors/hooks.js';
import { ScriptedCollector } from '../../src/collectors/scripted-collector.js';
import type { FlowRecord, Snapshot } from '../../src/model/types.js';
import { RecordFlowSet } from '../../src/model/flow-set.js';
import { RunLoop } from '../../src/app/run-loop.js';
import { runTui } from '../../src/ui/run-tui.js';

const FLOWS = Number(process.argv[2] ?? 40);

const HOOKS: readonly HookInfo[] = [
  { ifname: 'eth0', ifindex: 2, kind: 'tc', dir: 'ingress', mode: 'tcx', link: true },
  { ifname: 'eth0', ifindex: 2, kind: 'tc', dir: 'egress', mode: 'tcx', link: true },
];

interface Live {
  flow: FlowRecord;
  /** bytes per second as a function of seconds since start. */
  rate: (t: number) => number;
  size: number;
}

const SERVICES = [443, 443, 443, 80, 53, 22, 5432, 6379, 123, 8080];
const startNs = Number(process.hrtime.bigint());

function makeFlow(i: number, nowNs: number): Live {
  const v6 = i % 7 === 3;
  const icmp = i % 11 === 5;
  const proto = icmp ? (v6 ? 58 : 1) : SERVICES[i % SERVICES.length] === 53 || i % 5 === 4 ? 17 : 6;
  const ingress = i % 3 === 0;
  const local = v6 ? `2001:db8:1::${(i % 50) + 10}` : `10.0.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`;
  const remote = v6 ? `2001:db8:ffff::${(i % 9) + 1}` : `192.0.2.${(i % 23) + 1}`;
  const sport = 32768 + ((i * 7919) % 28000);
  const dport = icmp ? 8 * 256 : (SERVICES[i % SERVICES.length] as number);
  const phase = i * 0.7;
  const scale = 2000 * 1.6 ** (i % 17);
  const shape = i % 4;
  return {
    flow: {
      key: `demo${i}`,
      family: v6 ? 6 : 4,
      proto,
      src: ingress ? remote : local,
      dst: ingress ? local : remote,
      sport: ingress ? dport : sport,
      dport: ingress ? sport : dport,
      dir: ingress ? 'ingress' : 'egress',
      ifindex: 2,
      ifname: 'eth0',
      packets: 0,
      bytes: 0,
      firstSeenNs: nowNs,
      lastSeenNs: nowNs,
      tcpFlags: proto === 6 ? 0x12 : 0,
    },
    // steady, sine, bursts every 10 s, and one that stops after 15 s (to expire).
    rate: (t) =>
      shape === 0 ? scale : shape === 1 ? scale * (1.1 + Math.sin(t / 3 + phase)) : shape === 2 ? (Math.floor(t + phase) % 10 < 3 ? scale * 4 : scale / 10) : t < 15 ? scale : 0,
    size: proto === 6 ? 1200 : 180,
  };
}

function* traffic(): Generator<Snapshot> {
  const live: Live[] = [];
  let next = 0;
  let prevNs = startNs;
  const created = { n: 0 };
  for (;;) {
    const monoNs = Number(process.hrtime.bigint());
    const t = (monoNs - startNs) / 1e9;
    const dt = (monoNs - prevNs) / 1e9;
    prevNs = monoNs;
    // Most flows at once, then a trickle of new ones.
    const want = Math.min(FLOWS + Math.floor(t / 2), next + (next < FLOWS * 0.75 ? FLOWS : 1));
    while (next < want) {
      live.push(makeFlow(next++, monoNs));
      created.n++;
    }
    let packetsIn = 0;
    let packetsOut = 0;
    let bytesIn = 0;
    let bytesOut = 0;
    for (const l of live) {
      const bytes = Math.round(l.rate(t) * dt);
      if (bytes > 0) {
        const packets = Math.max(1, Math.round(bytes / l.size));
        l.flow = { ...l.flow, bytes: l.flow.bytes + bytes, packets: l.flow.packets + packets, lastSeenNs: monoNs };
      }
      if (l.flow.dir === 'ingress') {
        packetsIn += l.flow.packets;
        bytesIn += l.flow.bytes;
      } else {
        packetsOut += l.flow.packets;
        bytesOut += l.flow.bytes;
      }
    }
    yield {
      monoNs,
      wallMs: Date.now(),
      flows: new RecordFlowSet(live.map((l) => l.flow)),
      counters: {
        packetsIn,
        packetsOut,
        bytesIn,
        bytesOut,
        nonIp: 3,
        nonIpBytes: 180,
        malformed: 0,
        malformedBytes: 0,
        updateFailed: 0,
        flowsCreated: created.n,
      },
      maxFlows: 65536,
      flowsDeleted: 0,
    };
  }
}

const collector = new ScriptedCollector(traffic(), { hooks: HOOKS });
const abort = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => abort.abort());

const loop = new RunLoop({ collector, interfaces: ['eth0'], intervalS: 1, idleTimeoutS: 8, signal: abort.signal });
await runTui({ loop, options: { sort: 'bps', reverse: false, filter: process.env.FILTER ?? '' } });
for (const line of loop.close()) process.stderr.write(`tc-top: ${line}\n`);
