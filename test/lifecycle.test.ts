/**
 * Leaving the machine as it was found: every way tc-top ends detaches what it attached, a killed
 * tc-top leaves nothing on the link path, and what others attached survives tc-top's start and exit.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { HAS_TCX, KERNEL, SLOW, TC_AUTO_MODE } from './helpers/kernel.js';
import { type Bed, hookState, inject, kernelTest, withBed } from './helpers/netns.js';
import { frame } from './helpers/packets.js';
import { startTcTop } from './helpers/run.js';

const FOREIGN_OBJ = fileURLToPath(new URL('./fixtures/foreign.bpf.o', import.meta.url));

function assertClean(bed: Bed): void {
  const s = hookState(bed, bed.nsA, bed.ifA);
  assert.deepEqual(s.programs, [], 'no XDP or tcx program left');
  assert.equal(s.tcIngress, '', 'no tc ingress filter left');
  assert.equal(s.tcEgress, '', 'no tc egress filter left');
  assert.doesNotMatch(s.qdisc, /clsact/, 'no clsact left');
}

/**
 * What a running tc-top has on the interface: TC as tcx links where the kernel has them (6.6+),
 * else as clsact filters; XDP as a link.
 */
function assertAttached(bed: Bed, hook: 'tc' | 'xdp' | 'both'): void {
  const s = hookState(bed, bed.nsA, bed.ifA);
  const tcIn = hook === 'tc';
  const tcEg = hook !== 'xdp';
  const expected = [
    ...(hook === 'tc' ? [] : ['xdp tctop_xdp']),
    ...(HAS_TCX ? [...(tcIn ? ['tcx-ingress tctop_tc_in'] : []), ...(tcEg ? ['tcx-egress tctop_tc_eg'] : [])] : []),
  ];
  assert.deepEqual(s.programs, expected, 'XDP and tcx programs while running');
  const clsact = !HAS_TCX;
  assert.equal(/tctop_tc_in/.test(s.tcIngress), clsact && tcIn, `tc ingress filter on ${KERNEL}: ${s.tcIngress}`);
  assert.equal(/tctop_tc_eg/.test(s.tcEgress), clsact && tcEg, `tc egress filter on ${KERNEL}: ${s.tcEgress}`);
}

async function attached(bed: Bed, args: readonly string[]) {
  const run = startTcTop(bed.nsA, ['-i', bed.ifA, '--json', '-d', '0.2', ...args]);
  await run.waitFor(() => run.lines.length > 0, 15_000, 'the first JSON line');
  return run;
}

describe('lifecycle on a veth pair', kernelTest(), () => {
  it('exits 0 by itself after --count updates and detaches', () =>
    withBed(async (bed) => {
      const run = startTcTop(bed.nsA, ['-i', bed.ifA, '--json', '-d', '0.1', '-n', '3']);
      try {
        assert.equal(await run.exited(), 0, run.stderr());
        assert.equal(run.lines.length, 3);
        assert.match(run.stderr(), new RegExp(`detached tc ingress \\(${TC_AUTO_MODE}\\) from`));
        assert.match(run.stderr(), new RegExp(`detached tc egress \\(${TC_AUTO_MODE}\\) from`));
        assertClean(bed);
      } finally {
        await run.stop('SIGKILL');
      }
    }));

  // Every signal with every hook; under emulation (test:kernels) each signal with one hook, in turn.
  const signals = ['SIGTERM', 'SIGHUP', 'SIGINT'] as const;
  const hooks = ['tc', 'xdp', 'both'] as const;
  for (const [si, signal] of signals.entries()) {
    for (const [hi, hook] of hooks.entries()) {
      if (SLOW > 1 && hi !== si) continue;
      it(`${signal} with --hook ${hook}: exit 0, every hook detached`, () =>
        withBed(async (bed) => {
          const run = await attached(bed, ['--hook', hook, ...(hook === 'tc' ? [] : ['--xdp-mode', 'generic'])]);
          try {
            assertAttached(bed, hook);
            assert.equal(await run.stop(signal), 0, run.stderr());
            const lines = run.stderr().split('\n').filter((l) => l.includes('detached'));
            assert.equal(lines.length, hook === 'tc' ? 2 : hook === 'xdp' ? 1 : 2, run.stderr());
            assertClean(bed);
          } finally {
            await run.stop('SIGKILL');
          }
        }));
    }
  }

  for (const hook of ['tc', 'xdp'] as const) {
    const links = hook === 'xdp' || HAS_TCX;
    it(`SIGKILL with --hook ${hook}: ${links ? "the kernel removes tc-top's links" : 'the clsact filters stay (no tcx before 6.6), and --cleanup removes them'}`, () =>
      withBed(async (bed) => {
        const run = await attached(bed, ['--hook', hook, ...(hook === 'xdp' ? ['--xdp-mode', 'generic'] : [])]);
        assertAttached(bed, hook);
        assert.equal(await run.stop('SIGKILL'), 'SIGKILL');
        if (!links) {
          const left = hookState(bed, bed.nsA, bed.ifA);
          assert.match(left.tcIngress, /tctop_tc_in/, 'a killed clsact run leaves its filters');
          assert.match(left.tcEgress, /tctop_tc_eg/);
          const cleanup = startTcTop(bed.nsA, ['--cleanup', '-i', bed.ifA]);
          assert.equal(await cleanup.exited(), 0, cleanup.stderr());
        }
        assertClean(bed);
      }));
  }

  it(HAS_TCX ? '--tc-mode tcx attaches tcx links' : `--tc-mode tcx on ${KERNEL}: one line naming tcx and Linux 6.6, exit 1, nothing attached`, () =>
    withBed(async (bed) => {
      const run = startTcTop(bed.nsA, ['-i', bed.ifA, '--json', '-d', '0.2', '-n', '1', '--tc-mode', 'tcx']);
      const code = await run.exited();
      if (HAS_TCX) {
        assert.equal(code, 0, run.stderr());
        assert.match(run.stderr(), /attached tc ingress \(tcx\) to/);
      } else {
        assert.equal(code, 1, run.stderr());
        assert.equal(run.stderr(), `tc-top: this kernel (${KERNEL}) has no tcx links, which came in Linux 6.6: use --tc-mode auto or legacy (clsact filters)\n`);
      }
      assertClean(bed);
    }));

  for (const tcMode of ['auto', 'legacy'] as const) {
    it(`a pre-existing clsact and its filters survive (--tc-mode ${tcMode})`, () =>
      withBed(async (bed) => {
        bed.exec(bed.nsA, 'tc', ['qdisc', 'add', 'dev', bed.ifA, 'clsact']);
        for (const dir of ['ingress', 'egress']) {
          bed.exec(bed.nsA, 'tc', ['filter', 'add', 'dev', bed.ifA, dir, 'bpf', 'da', 'bytecode', '1,6 0 0 4294967295,']);
        }
        const before = hookState(bed, bed.nsA, bed.ifA);
        const run = await attached(bed, ['--tc-mode', tcMode]);
        try {
          if (tcMode === 'legacy') assert.notDeepEqual(hookState(bed, bed.nsA, bed.ifA), before, 'tc-top added its filters');
          assert.equal(await run.stop('SIGTERM'), 0, run.stderr());
          assert.deepEqual(hookState(bed, bed.nsA, bed.ifA), before, 'filters and qdisc exactly as before');
          assert.doesNotMatch(run.stderr(), /removed the clsact/);
        } finally {
          await run.stop('SIGKILL');
        }
      }));
  }

  it('refuses to replace a foreign XDP program, and leaves it attached', () =>
    withBed(async (bed) => {
      bed.exec(bed.nsA, 'ip', ['link', 'set', 'dev', bed.ifA, 'xdpgeneric', 'obj', FOREIGN_OBJ, 'sec', 'xdp']);
      const before = hookState(bed, bed.nsA, bed.ifA);
      assert.deepEqual(before.programs, ['xdp foreign_xdp']);
      for (const mode of ['auto', 'native', 'generic']) {
        const run = startTcTop(bed.nsA, ['-i', bed.ifA, '--hook', 'xdp', '--xdp-mode', mode, '--json']);
        assert.equal(await run.exited(), 1);
        assert.match(run.stderr(), /already has an XDP program \(id \d+, name foreign_xdp\); tc-top never replaces it: use --hook tc/);
        assert.equal(run.stderr().trim().split('\n').length, 1, 'one line');
        assert.deepEqual(hookState(bed, bed.nsA, bed.ifA), before);
      }
    }));

  it('a map smaller than the flows shows evictions and keeps running', () =>
    withBed(
      async (bed) => {
        const run = await attached(bed, ['--max-flows', '16']);
        try {
          const frames = Array.from({ length: 200 }, (_, i) =>
            frame({ ip: { v: 4, src: '10.9.0.1', dst: '10.9.0.2' }, l4: { kind: 'udp', sport: 1000 + i, dport: 53 } }),
          );
          inject(bed, bed.nsB, bed.ifB, frames);
          type Line = { totals: { packets_in: number; flows: number }; counters: { evictions: number; flows_created: number; update_failed: number; max_flows: number } };
          const last = () => JSON.parse(run.lines[run.lines.length - 1]!) as Line;
          await run.waitFor(() => last().totals.packets_in >= 200, 10_000, 'all frames counted');
          const line = last();
          assert.equal(line.counters.max_flows, 16);
          assert.ok(line.totals.flows <= 16, `live flows ${line.totals.flows} fit the map`);
          assert.equal(line.counters.flows_created, 200 - line.counters.update_failed);
          assert.ok(line.counters.evictions + line.counters.update_failed >= 200 - 16, `evictions ${line.counters.evictions}, failed ${line.counters.update_failed}`);
          assert.equal(run.child.exitCode, null, 'still running');
          assert.equal(await run.stop('SIGINT'), 0);
        } finally {
          await run.stop('SIGKILL');
        }
      },
      { addresses: false },
    ));

  it('an unknown interface is a one-line error, exit 1, nothing attached', () =>
    withBed(async (bed) => {
      const run = startTcTop(bed.nsA, ['-i', 'nosuch0', '--json']);
      assert.equal(await run.exited(), 1);
      assert.equal(run.stderr(), "tc-top: no interface named 'nosuch0': use a name from `ip link`\n");
      assertClean(bed);
    }));
});
