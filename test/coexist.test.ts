/**
 * Playing nice: tc-top never decides a packet's fate, so a program after it on the same hook (here
 * a second tc-top) sees every packet too; programs left by a killed legacy run are found and
 * removed by name, and nothing else; and once attached, tc-top holds no privilege it does not need.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { HAS_TCX, TC_AUTO_MODE } from './helpers/kernel.js';
import { type Bed, hookState, inject, kernelTest, withBed } from './helpers/netns.js';
import { frame } from './helpers/packets.js';
import { type Running, startTcTop } from './helpers/run.js';

type Line = { totals: { packets_in: number }; flows: { dport: number; packets: number }[] };
const last = (r: Running) => JSON.parse(r.lines[r.lines.length - 1]!) as Line;
const udp = (dport: number) => frame({ ip: { v: 4, src: '10.9.0.2', dst: '10.9.0.1' }, l4: { kind: 'udp', sport: 4000, dport } });

async function start(bed: Bed, args: readonly string[]): Promise<Running> {
  const run = startTcTop(bed.nsA, ['-i', bed.ifA, '--json', '-d', '0.2', ...args]);
  await run.waitFor(() => run.lines.length > 0, 15_000, 'the first JSON line');
  return run;
}

async function packetsTo(run: Running, dport: number, n: number): Promise<void> {
  await run.waitFor(() => (last(run).flows.find((f) => f.dport === dport)?.packets ?? 0) >= n, 5_000, `${n} packets to port ${dport}`);
  assert.equal(last(run).flows.find((f) => f.dport === dport)?.packets, n);
}

const PAIRS: readonly [string, string[], string[]][] = [
  [`auto (${TC_AUTO_MODE}) then auto`, [], []],
  ['legacy then legacy', ['--tc-mode', 'legacy'], ['--tc-mode', 'legacy']],
  [`auto (${TC_AUTO_MODE}) then legacy`, [], ['--tc-mode', 'legacy']],
  ['XDP then TC', ['--hook', 'xdp', '--xdp-mode', 'generic'], []],
];

describe('chain-friendly verdicts: two tc-top on one interface', kernelTest(), () => {
  for (const [name, first, second] of PAIRS) {
    it(`${name}: both count every packet, and quitting one leaves the other counting`, () =>
      withBed(
        async (bed) => {
          const a = await start(bed, first);
          const b = await start(bed, second);
          try {
            inject(bed, bed.nsB, bed.ifB, [udp(21)], 25);
            await packetsTo(a, 21, 25);
            await packetsTo(b, 21, 25);
            assert.equal(await a.stop('SIGTERM'), 0, a.stderr());
            inject(bed, bed.nsB, bed.ifB, [udp(22)], 7);
            await packetsTo(b, 22, 7);
            assert.equal(await b.stop('SIGTERM'), 0, b.stderr());
            const s = hookState(bed, bed.nsA, bed.ifA);
            assert.deepEqual(s.programs, []);
            assert.equal(s.tcIngress + s.tcEgress, '');
          } finally {
            await a.stop('SIGKILL');
            await b.stop('SIGKILL');
          }
        },
        { addresses: false },
      ));
  }
});

describe('leftovers of a killed legacy run', kernelTest(), () => {
  it('are reported at the next start and removed by --cleanup, which touches nothing else', () =>
    withBed(async (bed) => {
      bed.exec(bed.nsA, 'tc', ['qdisc', 'add', 'dev', bed.ifA, 'clsact']);
      bed.exec(bed.nsA, 'tc', ['filter', 'add', 'dev', bed.ifA, 'ingress', 'bpf', 'da', 'bytecode', '1,6 0 0 4294967295,']);
      const foreign = hookState(bed, bed.nsA, bed.ifA);

      const killed = await start(bed, ['--tc-mode', 'legacy']);
      assert.equal(await killed.stop('SIGKILL'), 'SIGKILL');
      const left = hookState(bed, bed.nsA, bed.ifA);
      assert.match(left.tcIngress, /tctop_tc_in/, 'a killed legacy run leaves its filters');
      assert.match(left.tcEgress, /tctop_tc_eg/);

      const next = await start(bed, []);
      assert.match(next.stderr(), /has tc-top programs left by a run that was killed \(tc ingress filter tctop_tc_in \(id \d+, pref 11376\), tc egress filter tctop_tc_eg \(id \d+, pref 11376\)\): remove them with `tc-top --cleanup -i /);
      // While another tc-top runs, its programs are not leftovers.
      const during = startTcTop(bed.nsA, ['--cleanup', '-i', bed.ifA]);
      assert.equal(await during.exited(), 0, during.stderr());
      assert.equal(during.lines.filter((l) => l.startsWith('tc-top: removed')).length, 2, during.lines.join('\n'));
      assert.equal(await next.stop('SIGINT'), 0);

      const again = startTcTop(bed.nsA, ['--cleanup', '-i', bed.ifA]);
      assert.equal(await again.exited(), 0);
      assert.deepEqual(again.lines, [`tc-top: no tc-top programs left over on ${bed.ifA}`]);
      assert.deepEqual(hookState(bed, bed.nsA, bed.ifA), foreign, 'the foreign filter and qdisc are as before');
    }));
});

function status(pid: number): Record<string, string> {
  return Object.fromEntries(
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(':\t') as [string, string]),
  );
}

const NONE = '0000000000000000';
const NET_ADMIN = '0000000000001000';
/** --tc-mode auto: tcx links need no privilege to detach; before 6.6 it is the clsact path. */
const AUTO_CAPS = HAS_TCX ? NONE : NET_ADMIN;
const AUTO_PATH = HAS_TCX ? 'link path (tcx)' : 'auto on a kernel without tcx: the clsact path';

describe('privileges after attaching', kernelTest(), () => {
  for (const [name, args, env, uid, capEff] of [
    [`${AUTO_PATH}: nobody, ${HAS_TCX ? 'no capability' : 'only CAP_NET_ADMIN'}`, [], {}, '65534', AUTO_CAPS],
    [`${AUTO_PATH} under sudo: the invoking user`, [], { SUDO_UID: '1234', SUDO_GID: '1234', SUDO_USER: 'someone' }, '1234', AUTO_CAPS],
    ['XDP link path: nobody, no capability', ['--hook', 'xdp', '--xdp-mode', 'generic'], {}, '65534', NONE],
    ['legacy path: only CAP_NET_ADMIN, to detach on exit', ['--tc-mode', 'legacy'], {}, '65534', NET_ADMIN],
    ['--no-drop-privileges keeps root', ['--no-drop-privileges'], {}, '0', undefined],
  ] as const) {
    it(name, () =>
      withBed(
        async (bed) => {
          const saved = { ...process.env };
          Object.assign(process.env, env);
          let run: Running | undefined;
          try {
            run = await start(bed, [...args]);
            const st = status(run.child.pid!);
            assert.equal(st.Uid!.split('\t')[0], uid, JSON.stringify(st));
            if (capEff !== undefined) {
              assert.equal(st.CapEff, capEff);
              assert.equal(st.CapPrm, capEff);
              assert.equal(st.CapInh, '0000000000000000');
              assert.equal(st.NoNewPrivs, '1');
              assert.equal(st.Groups?.trim() ?? '', '');
            }
            inject(bed, bed.nsB, bed.ifB, [udp(31)], 9);
            await packetsTo(run, 31, 9);
            assert.equal(await run.stop('SIGTERM'), 0, run.stderr());
            const s = hookState(bed, bed.nsA, bed.ifA);
            assert.deepEqual(s.programs, []);
            assert.equal(s.tcIngress + s.tcEgress, '', 'detached on exit');
            assert.doesNotMatch(s.qdisc, /clsact/);
          } finally {
            process.env = saved;
            await run?.stop('SIGKILL');
          }
        },
        { addresses: false },
      ));
  }
});
