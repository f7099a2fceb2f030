/**
 * Never leave the machine worse than found: every way of ending, a vanishing interface, a missing
 * libbpf, and least privilege, each on the real kernel in test-made namespaces.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HAS_TCX, SLOW, wait } from './helpers/kernel.js';
import { type Bed, hookState, inject, sh, withBed } from './helpers/netns.js';
import { frame } from './helpers/packets.js';
import { BIN, startTcTop } from './helpers/run.js';
import { openTerminal, tmuxTest } from './helpers/tmux.js';

const INJECT = new URL('./tools/inject.py', import.meta.url).pathname;

function assertClean(bed: Bed): void {
  const s = hookState(bed, bed.nsA, bed.ifA);
  assert.deepEqual(s.programs, [], 'no XDP or tcx program left');
  assert.equal(s.tcIngress + s.tcEgress, '', 'no tc filter left');
  assert.doesNotMatch(s.qdisc, /clsact/, 'no clsact left');
}

const WAYS: readonly { name: string; signal?: NodeJS.Signals; env?: Record<string, string>; count?: boolean; tui?: boolean; code: number | string }[] = [
  { name: 'q in the TUI', tui: true, code: 0 },
  { name: 'SIGINT', signal: 'SIGINT', code: 0 },
  { name: 'SIGTERM', signal: 'SIGTERM', code: 0 },
  { name: 'SIGHUP', signal: 'SIGHUP', code: 0 },
  { name: '--count', count: true, code: 0 },
  { name: 'an uncaught exception', env: { TC_TOP_FAULT: 'throw' }, code: 70 },
  { name: 'an unhandled rejection', env: { TC_TOP_FAULT: 'reject' }, code: 70 },
  { name: 'SIGKILL (links: the kernel detaches; clsact before 6.6: --cleanup)', signal: 'SIGKILL', code: 'SIGKILL' },
];

/** Under emulation (test:kernels) each start takes seconds: every way once (half of them legacy) instead of 50 starts. */
const STARTS = SLOW > 1 ? WAYS.length : 50;
const FLOWS = 1_000_000;
const thousands = (n: number) => n.toLocaleString('en-US');

describe('robustness on the real kernel', tmuxTest(), () => {
  it(`${STARTS} starts and stops, every way of ending, leave the interface clean every time`, () =>
    withBed(async (bed) => {
      for (let i = 0; i < STARTS; i++) {
        const way = WAYS[i % WAYS.length]!;
        const legacy = i % 2 === 1 && way.signal !== 'SIGKILL';
        const args = ['-i', bed.ifA, '--json', '-d', '0.05', ...(way.count ? ['-n', '2'] : []), ...(legacy ? ['--tc-mode', 'legacy'] : [])];
        if (way.tui) {
          const term = openTerminal(`tct-${process.pid}-loop`, `ip netns exec ${bed.nsA} ${process.execPath} ${BIN} ${args.filter((a) => a !== '--json').join(' ')}; echo EXIT=$?; sleep 30`, 100, 30);
          try {
            await term.waitFor((x) => /^flows \d+/m.test(x), `run ${i}: the TUI`);
            term.keys('q');
            assert.match(await term.waitFor((x) => /EXIT=\d+/.test(x), `run ${i}: the exit`), /EXIT=0/);
            assert.ok(term.cursorVisible(), 'the terminal is restored');
          } finally {
            term.kill();
          }
          assertClean(bed);
          continue;
        }
        const saved = { ...process.env };
        Object.assign(process.env, way.env ?? {});
        const run = startTcTop(bed.nsA, args);
        process.env = saved;
        try {
          if (way.signal) {
            await run.waitFor(() => run.lines.length > 0, 15_000, 'the first JSON line');
            run.child.kill(way.signal);
          }
          const code = await run.exited();
          assert.equal(code, way.code, `run ${i} (${way.name}${legacy ? ', legacy' : ''}): ${run.stderr()}`);
          if (way.env) assert.match(run.stderr(), /^tc-top: internal error: injected fault .*TC_TOP_DEBUG=1 shows the stack\)$/m);
          if (way.signal === 'SIGKILL' && !HAS_TCX) {
            // No tcx before 6.6: the killed run's clsact filters stay, and --cleanup removes them.
            const left = hookState(bed, bed.nsA, bed.ifA);
            assert.match(left.tcIngress, /tctop_tc_in/, `run ${i}: a killed clsact run leaves its filters`);
            assert.match(left.tcEgress, /tctop_tc_eg/);
            const cleanup = startTcTop(bed.nsA, ['--cleanup', '-i', bed.ifA]);
            assert.equal(await cleanup.exited(), 0, cleanup.stderr());
          }
          assertClean(bed);
        } finally {
          await run.stop('SIGKILL');
        }
      }
    }));

  for (const tcMode of ['auto', 'legacy'] as const) {
    it(`the watched interface disappears (--tc-mode ${tcMode}): a clear message, exit 1, no crash`, () =>
      withBed(async (bed) => {
        const run = startTcTop(bed.nsA, ['-i', bed.ifA, '--json', '-d', '0.1', '--tc-mode', tcMode]);
        try {
          await run.waitFor(() => run.lines.length > 0, 15_000, 'the first JSON line');
          bed.exec(bed.nsA, 'ip', ['link', 'del', bed.ifA]);
          assert.equal(await run.exited(), 1, run.stderr());
          assert.match(run.stderr(), new RegExp(`tc-top: ${bed.ifA} disappeared while tc-top was watching it: stopping`));
          assert.match(run.stderr(), new RegExp(`tc-top: ${bed.ifA} is gone, and tc-top's hooks with it`));
          assert.doesNotMatch(run.stderr(), /\n\s+at /, 'no stack trace');
        } finally {
          await run.stop('SIGKILL');
        }
      }));
  }

  // Memory is tc-top's, not the kernel's: under emulation (test:kernels) this would take most of a
  // guest's time; lifecycle's --max-flows 16 test shows evictions on every kernel.
  const flowsOpts = SLOW > 1 ? { skip: 'a million flows under emulation: run on the host kernel (npm test)' } : {};
  it(`${thousands(FLOWS)} distinct flows through a 65,536-entry map: keeps running, shows evictions, bounded memory`, flowsOpts, (t) =>
    withBed(
      async (bed) => {
        const run = startTcTop(bed.nsA, ['-i', bed.ifA, '--json', '-d', '0.5', '--top', '5']);
        try {
          await run.waitFor(() => run.lines.length > 0, 15_000, 'the first JSON line');
          // 0 once the process has ended (waitFor then says how it ended).
          const status = () => {
            try {
              return readFileSync(`/proc/${run.child.pid}/status`, 'utf8');
            } catch {
              return ''; /* ended: waitFor says how */
            }
          };
          const rss = () => Number(/^VmRSS:\s+(\d+) kB$/m.exec(status())?.[1] ?? 0) * 1024;
          // Resident memory rises and falls with the garbage collector, so a phase is judged by
          // its peak, sampled all through it, not by one reading at a moment the collector chose.
          let peak = 0;
          const sample = () => void (peak = Math.max(peak, rss()));
          const idle = rss();
          type Line = { totals: { packets_in: number; flows: number }; counters: { evictions: number; update_failed: number; flows_created: number } };
          const last = () => JSON.parse(run.lines[run.lines.length - 1]!) as Line;
          /** FLOWS new flows, counted, then six more updates: the peak memory of it all. */
          const batch = async (target: number, what: string): Promise<number> => {
            peak = 0;
            const sent = Number(bed.exec(bed.nsB, 'python3', [INJECT, bed.ifB, '--udp-flows', String(FLOWS)]).trim());
            assert.equal(sent, FLOWS);
            await run.waitFor(() => (sample(), last().totals.packets_in >= target), 30_000, what);
            const n = run.lines.length;
            await run.waitFor(() => (sample(), run.lines.length > n + 6), 10_000, 'six more updates');
            return peak;
          };
          const first = await batch(FLOWS, 'every frame counted');
          const line = last();
          assert.equal(line.totals.packets_in, FLOWS);
          assert.ok(line.totals.flows <= 65_536, `live flows ${line.totals.flows}`);
          assert.equal(line.counters.flows_created + line.counters.update_failed, FLOWS, 'every frame made a flow or failed to');
          assert.ok(line.counters.evictions + line.counters.update_failed >= FLOWS - 65_536, JSON.stringify(line.counters));
          // As many flows again through the full map: memory must not grow with the flows seen.
          const second = await batch(2 * FLOWS, 'the second batch counted');
          const mib = (x: number) => `${(x / 2 ** 20).toFixed(0)} MiB`;
          const seen = `${mib(idle)} idle, peak ${mib(first)} over the first ${thousands(FLOWS)} flows, ${mib(second)} over the next`;
          // A sanity ceiling, not a target (the targets live in bench/ and docs/BENCHMARKS.md).
          assert.ok(first < 600 * 2 ** 20 && second < 600 * 2 ** 20, `resident memory ${seen}`);
          assert.ok(second < first * 1.3 + 20 * 2 ** 20, `bounded: ${seen}`);
          t.diagnostic(seen);
          assert.equal(await run.stop('SIGINT'), 0);
          assertClean(bed);
        } finally {
          await run.stop('SIGKILL');
        }
      },
      { addresses: false },
    ));

  it('without libbpf.so.1: one line naming the package, exit 1', () => {
    // A private mount namespace hides the library behind /dev/null for this one process.
    const lib = sh('sh', ['-c', 'readlink -f "$(ldconfig -p | awk \'/libbpf.so.1 / {print $NF; exit}\')"']).trim();
    assert.ok(lib, 'libbpf.so.1 is installed here');
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind /dev/null ${lib} && exec "$0" "$@"`, process.execPath, BIN, '-i', 'lo', '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, 'tc-top: libbpf.so.1 was not found: install it (Debian/Ubuntu: apt-get install libbpf1; Fedora: dnf install libbpf)\n');
  });

  it('with only libbpf.so.0 (libbpf 0.x, Ubuntu 22.04): one line saying tc-top needs 1.0 and how to get it, exit 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tct-libbpf0-'));
    try {
      // A stand-in for Ubuntu 22.04's libbpf.so.0, found through LD_LIBRARY_PATH; libbpf.so.1 hidden.
      writeFileSync(join(dir, 'old.c'), 'int libbpf_num_possible_cpus(void) { return 1; }\n');
      sh('cc', ['-shared', '-fPIC', '-o', join(dir, 'libbpf.so.0'), join(dir, 'old.c')]);
      const lib = sh('sh', ['-c', 'readlink -f "$(ldconfig -p | awk \'/libbpf.so.1 / {print $NF; exit}\')"']).trim();
      const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind /dev/null ${lib} && exec "$0" "$@"`, process.execPath, BIN, '-i', 'lo', '--json'], {
        encoding: 'utf8',
        env: { ...process.env, LD_LIBRARY_PATH: dir },
      });
      assert.equal(r.status, 1, r.stderr);
      assert.equal(
        r.stderr,
        'tc-top: only libbpf 0.x (libbpf.so.0) was found, as on Ubuntu 22.04: tc-top needs libbpf 1.0 or newer (libbpf.so.1): build it from https://github.com/libbpf/libbpf (`make -C src install`), or use a distribution that ships it (Debian 12, Ubuntu 22.10 and later)\n',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with a libbpf.so.1 too old for tc-top: one line saying so, exit 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tct-libbpf-'));
    try {
      // A stand-in library that has only one of the functions tc-top binds.
      writeFileSync(join(dir, 'old.c'), 'int libbpf_num_possible_cpus(void) { return 1; }\n');
      sh('cc', ['-shared', '-fPIC', '-o', join(dir, 'libbpf.so.1'), join(dir, 'old.c')]);
      const lib = sh('sh', ['-c', 'readlink -f "$(ldconfig -p | awk \'/libbpf.so.1 / {print $NF; exit}\')"']).trim();
      const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind ${join(dir, 'libbpf.so.1')} ${lib} && exec "$0" "$@"`, process.execPath, BIN, '-i', 'lo', '--json'], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^tc-top: the system's libbpf.so.1 is too old \(.*\): install libbpf 1.0 or newer/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('works as an unprivileged user given CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, and names a missing one', () =>
    withBed(
      async (bed) => {
        const caps = (list: string) => ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=${list}`, `--ambient-caps=${list}`];
        const full = caps('+bpf,+net_admin,+perfmon');
        const args = ['netns', 'exec', bed.nsA, ...full, process.execPath, BIN, '-i', bed.ifA, '--json', '-d', '0.2'];
        const { spawn } = await import('node:child_process');
        const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        try {
          const until = async (pred: () => boolean, what: string) => {
            for (const end = Date.now() + wait(15_000); !pred(); await new Promise((r) => setTimeout(r, 50))) {
              if (Date.now() > end || child.exitCode !== null) throw new Error(`${what}: ${err}`);
            }
          };
          await until(() => out.includes('\n'), 'the first JSON line');
          inject(bed, bed.nsB, bed.ifB, [frame({ ip: { v: 4, src: '10.9.0.2', dst: '10.9.0.1' }, l4: { kind: 'udp', sport: 1, dport: 41 } })], 5);
          await until(() => /"dport":41,"dir":"ingress","ifname":"[^"]+",("[a-z]+":[^,]+,)*"packets":5,/.test(out), 'the 5 packets');
          child.kill('SIGTERM');
          await new Promise((r) => child.once('exit', r));
          assert.equal(child.exitCode, 0, err);
          assertClean(bed);
        } finally {
          child.kill('SIGKILL');
        }
        const lacking = spawnSync('ip', ['netns', 'exec', bed.nsA, ...caps('+bpf,+perfmon'), process.execPath, BIN, '-i', bed.ifA, '--json'], { encoding: 'utf8' });
        assert.equal(lacking.status, 1);
        assert.match(lacking.stderr, /^tc-top: missing CAP_NET_ADMIN: run as root/);
        assertClean(bed);
      },
      { addresses: false },
    ));
});
