/**
 * The health programs' cost per event (bpf/tc_top_health.bpf.c): what each ACK, retransmission and
 * drop costs the kernel on top of what it does anyway. Measured with the kernel's own BPF run-time
 * statistics (sysctl kernel.bpf_stats_enabled: run_time_ns and run_cnt per program, as bpftool
 * shows them) while the real binary watches a veth pair and the test namespaces make events: an
 * iperf3 transfer with 5% of its segments dropped by nft (ACKs, retransmissions) and UDP to a
 * closed port (drops). The counter programs are measured in the same run, per packet, for scale.
 *
 * Every event of the machine reaches the health programs, also those of other namespaces, which
 * leave at the namespace check: the figure is the mean over all of them, as a user pays it.
 * Standalone: `node --import tsx bench/health.ts` prints the figures.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Bed, withBed } from '../test/helpers/netns.js';
import { progress, sleep, stopChild, track } from './lib.js';
import { progDelta, progStats, watching, withBpfStats } from './prog-stats.js';

export interface HealthRow {
  readonly program: string;
  /** What one run of it is. */
  readonly event: string;
  readonly runs: number;
  readonly nsPerRun: number;
}

export interface HealthResult {
  readonly rows: readonly HealthRow[];
  readonly seconds: number;
  /** Why there are no rows, when there are none. */
  readonly error?: string;
}

const EVENT: Record<string, string> = {
  tctop_rtt: 'a TCP segment received by an established socket (tcp_probe)',
  tctop_retrans: 'a retransmission (tcp_retransmit_skb)',
  tctop_retrans_err: 'a retransmission (tcp_retransmit_skb)',
  tctop_drop: 'an skb freed with a drop reason (kfree_skb)',
  tctop_tc_in: 'a packet at TC ingress (the counter path, for scale)',
  tctop_tc_eg: 'a packet at TC egress (the counter path, for scale)',
};

async function events(bed: Bed): Promise<void> {
  bed.exec(bed.nsB, 'nft', ['-f', '-'], { input: 'table inet tctbench {\n chain input {\n  type filter hook input priority 0;\n  tcp dport 5201 meta length > 200 numgen random mod 20 == 0 drop\n }\n}\n' });
  const server = track(spawn('ip', ['netns', 'exec', bed.nsB, 'iperf3', '-s', '-1', '-B', '10.200.0.2'], { stdio: 'ignore' }));
  try {
    await sleep(500);
    bed.exec(bed.nsA, 'iperf3', ['-c', '10.200.0.2', '-t', '3', '-b', '200M']);
    bed.exec(bed.nsA, 'python3', ['-c', "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(20000): s.sendto(b'x'*64,('10.200.0.2',9999))"]);
  } finally {
    await stopChild(server, 1000, 'SIGKILL');
  }
}

export async function benchHealth(): Promise<HealthResult> {
  const t0 = Date.now();
  try {
    return await withBpfStats(() =>
      withBed((bed) =>
        // Watching B's end: the drops (closed port, nft) happen there; the sender's ACKs arrive in A.
        watching(bed.nsB, ['-i', bed.ifB], 'ip', async (child) => {
          const start = progStats(child.pid!);
          progress('health: iperf3 with 5% loss, then 20000 datagrams to a closed port');
          await events(bed);
          const rows: HealthRow[] = [];
          for (const [name, d] of progDelta(start, progStats(child.pid!))) {
            if (EVENT[name]) rows.push({ program: name, event: EVENT[name]!, runs: d.runs, nsPerRun: d.ns / d.runs });
          }
          rows.sort((a, b) => a.program.localeCompare(b.program));
          return { rows, seconds: (Date.now() - t0) / 1000 };
        }),
      ),
    );
  } catch (err) {
    return { rows: [], seconds: (Date.now() - t0) / 1000, error: err instanceof Error ? err.message : String(err) };
  }
}

/** The section of docs/BENCHMARKS.md. */
export function healthMarkdown(h: HealthResult | undefined): string[] {
  if (!h) return [];
  const lines = [
    '## 6. Health: ns per event (RTT, retransmits, drops)',
    '',
    'Method: bench/health.ts. The real binary watches one end of a veth pair with its health programs loaded (the default;',
    '`--no-tcp-stats` loads none). The kernel\'s BPF run-time statistics (`kernel.bpf_stats_enabled`, restored after) give each',
    'program\'s time per run while an iperf3 transfer loses 5% of its segments to an nft rule and 20,000 datagrams go to a closed',
    'port. Every event of the machine runs the programs; those of other namespaces leave at the namespace check. The counter',
    'programs\' figures are per packet, for scale: the per-packet path is unchanged by the health programs.',
    '',
  ];
  if (h.error) return [...lines, `Not measured: ${h.error}`, ''];
  return [
    ...lines,
    '| program | one run is | runs | ns per run |',
    '| --- | --- | --- | --- |',
    ...h.rows.map((r) => `| \`${r.program}\` | ${r.event} | ${r.runs} | ${r.nsPerRun.toFixed(0)} |`),
    '',
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const h = await benchHealth();
  process.stdout.write(healthMarkdown(h).join('\n') + '\n');
}
