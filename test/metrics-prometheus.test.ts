/**
 * The exporter as a real Prometheus sees it: tc-top runs with `--metrics --no-ui` inside a test
 * namespace, a Prometheus (Debian's package) started by this test scrapes it over that namespace's
 * loopback, UDP datagrams of known size cross the veth, and Prometheus's HTTP query API must report
 * exactly the bytes sent. Prometheus, its config and its storage are the test's own, and go with it.
 *
 * Both servers live in the namespace (a server there is not reachable from the root namespace's
 * loopback), so the queries are made by a node process started inside it too.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Bed, IN_CI, kernelTest, withBed } from './helpers/netns.js';
import { startTcTop } from './helpers/run.js';

const HAS_PROMETHEUS = spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0;

/** Kernel test rules, and Debian's prometheus on the PATH (required under CI=true, where .ci/run installs it). */
function prometheusTest(): { skip?: string } {
  const kernel = kernelTest();
  if (kernel.skip) return kernel;
  if (!HAS_PROMETHEUS && !IN_CI) return { skip: 'needs prometheus on the PATH: apt-get install prometheus' };
  return {};
}

const DATAGRAMS = 150;
const PAYLOAD = 1000;
/** What TC counts per datagram: Ethernet 14 + IPv4 20 + UDP 8 + payload. */
const FRAME = 14 + 20 + 8 + PAYLOAD;
const SPORT = 40000;
const DPORT = 5001;

/** One ARP-resolving datagram, a pause, then the rest, so that none waits in (or falls out of) the neighbour queue. */
const SENDER = `
const s = require('node:dgram').createSocket('udp4');
const payload = Buffer.alloc(${PAYLOAD}, 7);
s.bind(${SPORT}, '10.200.0.2', () => {
  let sent = 0;
  const send = () => s.send(payload, ${DPORT}, '10.200.0.1', () => {
    sent++;
    if (sent === ${DATAGRAMS}) return s.close();
    setTimeout(send, sent === 1 ? 300 : 2);
  });
  send();
});
`;

/** A receiver, so that the datagrams are consumed instead of answered with ICMP port unreachable. */
const RECEIVER = `
const s = require('node:dgram').createSocket('udp4');
s.bind(${DPORT}, '10.200.0.1');
setTimeout(() => s.close(), 60000);
`;

/** GET a URL from inside a namespace; the body, or undefined when nothing answers. */
function nsGet(bed: Bed, ns: string, url: string): string | undefined {
  const script = `fetch(${JSON.stringify(url)}).then(async (r) => { if (!r.ok) process.exit(3); process.stdout.write(await r.text()); }, () => process.exit(2));`;
  const out = bed.exec(ns, process.execPath, ['-e', script], { allowFail: true });
  return out === '' ? undefined : out;
}

interface QueryResult {
  status: string;
  data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

function query(bed: Bed, ns: string, promQl: string): QueryResult['data']['result'] {
  const body = nsGet(bed, ns, `http://127.0.0.1:9090/api/v1/query?query=${encodeURIComponent(promQl)}`);
  if (body === undefined) return [];
  const parsed = JSON.parse(body) as QueryResult;
  assert.equal(parsed.status, 'success');
  return parsed.data.result;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, ms: number, probe: () => T | undefined): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const got = probe();
    if (got !== undefined) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

describe('--metrics scraped by a real Prometheus', prometheusTest(), () => {
  it('reports, through the query API, exactly the bytes sent between the namespaces', () =>
    withBed(async (bed) => {
      const dir = mkdtempSync(join(tmpdir(), 'tctop-prom-'));
      const config = join(dir, 'prometheus.yml');
      writeFileSync(
        config,
        ['global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', 'scrape_configs:', '  - job_name: tc-top', '    static_configs:', "      - targets: ['127.0.0.1:9464']", ''].join('\n'),
      );
      // --metrics without a value: the default, 127.0.0.1:9464 (inside the namespace).
      const run = startTcTop(bed.nsA, ['-i', bed.ifA, '--metrics', '--no-ui', '-d', '0.2']);
      let prometheus: ChildProcess | undefined;
      let receiver: ChildProcess | undefined;
      let promLog = '';
      let code: number | string | undefined;
      try {
        await run.waitFor(() => /metrics at http:\/\/127\.0\.0\.1:9464\/metrics/.test(run.stderr()), 15_000, 'the metrics server');
        assert.match(run.stderr(), new RegExp(`attached tc ingress \\(\\w+\\) to ${bed.ifA}`));

        prometheus = spawn(
          'ip',
          ['netns', 'exec', bed.nsA, 'prometheus', `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, '--web.listen-address=127.0.0.1:9090', '--log.level=warn'],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        prometheus.stderr!.setEncoding('utf8').on('data', (d: string) => (promLog = (promLog + d).slice(-4000)));
        await until('Prometheus to be ready', 30_000, () => {
          if (prometheus!.exitCode !== null) throw new Error(`prometheus exited (${prometheus!.exitCode}): ${promLog}`);
          return nsGet(bed, bed.nsA, 'http://127.0.0.1:9090/-/ready');
        });
        await until('the tc-top target to be up', 20_000, () => {
          const up = query(bed, bed.nsA, 'up{job="tc-top"}');
          return up[0]?.value[1] === '1' ? true : undefined;
        });

        receiver = spawn('ip', ['netns', 'exec', bed.nsA, process.execPath, '-e', RECEIVER], { stdio: 'ignore' });
        await sleep(300);
        const sent = spawnSync('ip', ['netns', 'exec', bed.nsB, process.execPath, '-e', SENDER], { encoding: 'utf8', timeout: 30_000 });
        assert.equal(sent.status, 0, `the sender: ${sent.stderr}`);

        const flow = `tctop_flow_bytes_total{direction="ingress",proto="udp",src="10.200.0.2",sport="${SPORT}",dst="10.200.0.1",dport="${DPORT}"}`;
        const bytes = await until(`Prometheus to hold ${DATAGRAMS * FRAME} bytes for the flow`, 30_000, () => {
          const r = query(bed, bed.nsA, flow);
          return r[0] && Number(r[0].value[1]) >= DATAGRAMS * FRAME ? r : undefined;
        });
        assert.equal(bytes.length, 1);
        assert.equal(bytes[0]!.metric.interface, bed.ifA);
        assert.equal(Number(bytes[0]!.value[1]), DATAGRAMS * FRAME, `${DATAGRAMS} datagrams of ${FRAME} bytes`);
        assert.equal(Number(query(bed, bed.nsA, flow.replace('bytes', 'packets'))[0]?.value[1]), DATAGRAMS);

        // Only this flow carried IP ingress: the per-interface sum says the same; the kernel's total
        // also counts the ARP request (non-IP).
        await until('the interface sum', 10_000, () => {
          const r = query(bed, bed.nsA, `tctop_interface_bytes_total{interface="${bed.ifA}",direction="ingress"}`);
          return r[0] && Number(r[0].value[1]) === DATAGRAMS * FRAME ? r : undefined;
        });
        const total = Number(query(bed, bed.nsA, 'tctop_bytes_total{direction="ingress"}')[0]?.value[1]);
        const nonIp = Number(query(bed, bed.nsA, 'tctop_non_ip_bytes_total')[0]?.value[1]);
        assert.ok(total >= DATAGRAMS * FRAME && total <= DATAGRAMS * FRAME + nonIp, `kernel ingress total ${total}, non-IP ${nonIp}`);
        assert.ok(Number(query(bed, bed.nsA, 'tctop_flows')[0]?.value[1]) >= 1);
        assert.equal(query(bed, bed.nsA, `tctop_hook_attached{interface="${bed.ifA}",hook="tc",direction="ingress"}`)[0]?.value[1], '1');
        // rate() works on the counters. The kernel total is scraped before the traffic too, so it has
        // a sample below the burst; a flow's series may first appear already holding all of it.
        const rate = Number(query(bed, bed.nsA, 'max_over_time(rate(tctop_bytes_total{direction="ingress"}[5s])[30s:1s])')[0]?.value[1]);
        assert.ok(rate > 0, `rate() of the ingress bytes: ${rate}`);
      } finally {
        if (receiver) await stopChild(receiver);
        if (prometheus) await stopChild(prometheus);
        code = await run.stop('SIGINT');
        rmSync(dir, { recursive: true, force: true });
      }
      assert.equal(code, 0, `tc-top exit: ${run.stderr()}`);
      assert.match(run.stderr(), new RegExp(`detached tc ingress \\(\\w+\\) from ${bed.ifA}`));
    }));
});
