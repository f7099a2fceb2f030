/**
 * The binary's behaviour around the counting: privileges, idle expiry, several interfaces.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { SLOW } from './helpers/kernel.js';
import { hookState, inject, kernelTest, withBed } from './helpers/netns.js';
import { frame } from './helpers/packets.js';
import { BIN, startTcTop } from './helpers/run.js';

type Line = {
  flows: { dport: number; ifname: string; packets: number; bytes: number }[];
  expired: { dport: number; packets: number }[];
  counters: { flows_expired: number; evictions: number };
};

const udp = (dport: number) => frame({ ip: { v: 4, src: '10.9.0.2', dst: '10.9.0.1' }, l4: { kind: 'udp', sport: 4000, dport }, payload: 20 });

describe('the tc-top binary', kernelTest(), () => {
  it('without privileges: names the missing capabilities, exit 1; --help still works', () => {
    const asNobody = (...args: string[]) =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args], { encoding: 'utf8' });
    const r = asNobody('-i', 'lo', '--json');
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, 'tc-top: missing CAP_NET_ADMIN, CAP_BPF, CAP_PERFMON: run as root (sudo tc-top ...) or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON\n');
    const help = asNobody('--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--interface/);
  });

  it('expires idle flows once, deletes them from the map, and keeps counting the others', () =>
    withBed(
      async (bed) => {
        // Under emulation each inject takes longer than 0.6 s to start: the idle timeout stretches with it.
        const run = startTcTop(bed.nsA, ['-i', bed.ifA, '--json', '-d', String(0.2 * SLOW), '--idle-timeout', String(0.6 * SLOW)]);
        try {
          await run.waitFor(() => run.lines.length > 0, 15_000, 'the first JSON line');
          inject(bed, bed.nsB, bed.ifB, [udp(7)], 3);
          const parsed = () => run.lines.map((l) => JSON.parse(l) as Line);
          await run.waitFor(() => parsed().some((l) => l.flows.some((f) => f.dport === 7)), 5_000, 'the flow');
          // Keep a second flow busy while the first goes idle.
          for (let i = 0; i < 8; i++) {
            inject(bed, bed.nsB, bed.ifB, [udp(9)]);
            await new Promise((r) => setTimeout(r, 150 * SLOW));
          }
          await run.waitFor(() => parsed().some((l) => l.expired.some((f) => f.dport === 7)), 5_000, 'the expiry');
          const lines = parsed();
          const at = lines.findIndex((l) => l.expired.some((f) => f.dport === 7));
          assert.deepEqual(lines[at]!.expired.map((f) => [f.dport, f.packets]), [[7, 3]], 'reported once, with its counts');
          assert.ok(!lines[at]!.flows.some((f) => f.dport === 7), 'not also among the live flows');
          assert.ok(lines[at]!.flows.some((f) => f.dport === 9), 'the busy flow lives on');
          await run.waitFor(() => run.lines.length > at + 2, 5_000, 'two more lines');
          for (const l of parsed().slice(at + 1)) {
            assert.ok(!l.expired.some((f) => f.dport === 7) && !l.flows.some((f) => f.dport === 7), 'gone for good');
            assert.equal(l.counters.evictions, 0, 'an expiry is not an eviction');
          }
          assert.ok(parsed()[parsed().length - 1]!.counters.flows_expired >= 1);
          assert.equal(await run.stop('SIGTERM'), 0);
        } finally {
          await run.stop('SIGKILL');
        }
      },
      { addresses: false },
    ));

  it('watches several interfaces at once (-i twice), each flow on its own interface', () =>
    withBed(
      async (bed) => {
        const ifA2 = `${bed.ifA.slice(0, 13)}x2`;
        const ifB2 = `${bed.ifB.slice(0, 13)}x2`;
        bed.exec(bed.nsA, 'ip', ['link', 'add', ifA2, 'type', 'veth', 'peer', 'name', ifB2, 'netns', bed.nsB]);
        bed.exec(bed.nsA, 'ip', ['link', 'set', ifA2, 'up']);
        bed.exec(bed.nsB, 'ip', ['link', 'set', ifB2, 'up']);
        for (const [ns, ifc] of [[bed.nsA, ifA2], [bed.nsB, ifB2]] as const) bed.exec(ns, 'sysctl', ['-q', '-w', `net.ipv6.conf.${ifc}.disable_ipv6=1`]);
        const run = startTcTop(bed.nsA, ['-i', bed.ifA, '-i', ifA2, '--json', '-d', '0.2']);
        try {
          await run.waitFor(() => run.lines.length > 0, 15_000, 'the first JSON line');
          inject(bed, bed.nsB, bed.ifB, [udp(11)], 4);
          inject(bed, bed.nsB, ifB2, [udp(11)], 6);
          const last = () => JSON.parse(run.lines[run.lines.length - 1]!) as Line;
          await run.waitFor(() => last().flows.reduce((t, f) => t + f.packets, 0) >= 10, 5_000, 'both flows');
          const byIf = Object.fromEntries(last().flows.map((f) => [f.ifname, f.packets]));
          assert.deepEqual(byIf, { [bed.ifA]: 4, [ifA2]: 6 });
          assert.equal(await run.stop('SIGINT'), 0);
          assert.equal(run.stderr().split('\n').filter((l) => l.includes('detached')).length, 4, run.stderr());
          for (const ifc of [bed.ifA, ifA2]) assert.deepEqual(hookState(bed, bed.nsA, ifc).programs, []);
        } finally {
          await run.stop('SIGKILL');
        }
      },
      { addresses: false },
    ));
});
