/**
 * The clsact qdisc on the legacy path: tc-top records under /run the clsact it creates, so that after
 * a run killed by SIGKILL `--cleanup` can put the interface back exactly as it was, and a clsact that
 * was there before tc-top (no record) stays through a killed run and `--cleanup` alike.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import { RECORD_DIR, claimClsactRecord, forgetClsact, netnsId, readClsactRecord, recordClsact, recordPath, sweepRecords } from '../src/collectors/clsact-record.js';
import { type Bed, hookState, kernelTest, withBed } from './helpers/netns.js';
import { type Running, startTcTop } from './helpers/run.js';

async function start(bed: Bed, args: readonly string[]): Promise<Running> {
  const run = startTcTop(bed.nsA, ['-i', bed.ifA, '--json', '-d', '0.2', ...args]);
  await run.waitFor(() => run.lines.length > 0, 15_000, 'the first JSON line');
  return run;
}

async function cleanup(bed: Bed): Promise<string[]> {
  const run = startTcTop(bed.nsA, ['--cleanup', '-i', bed.ifA]);
  assert.equal(await run.exited(), 0, run.stderr());
  return run.lines;
}

/** The record naming the bed's interface, if any (released records are empty and name nothing). */
function record(bed: Bed): { ifname: string; ifindex: number; netns: string } | undefined {
  let names: string[] = [];
  try {
    names = readdirSync(RECORD_DIR);
  } catch {
    return undefined;
  }
  for (const name of names) {
    try {
      const r = JSON.parse(readFileSync(`${RECORD_DIR}/${name}`, 'utf8')) as { ifname: string; ifindex: number; netns: string };
      if (r.ifname === bed.ifA) {
        assert.match(name, /^clsact-cookie\d+-\d+\.json$/);
        return r;
      }
    } catch {
      /* empty or gone */
    }
  }
  return undefined;
}

describe('clsact records (in a scratch directory)', () => {
  const iface = { name: 'eth9', index: 9 };
  const scratch = () => `${mkdtempSync(`${tmpdir()}/tct-record-`)}/tc-top`;

  it('record, read, claim; release deletes the record and the emptied directory', () => {
    const dir = scratch();
    try {
      assert.equal(readClsactRecord(iface, dir), undefined);
      const claim = recordClsact(iface, dir);
      assert.equal(claim.path, recordPath(9, dir));
      assert.match(claim.path, /\/clsact-(cookie|inode)\d+-9\.json$/);
      assert.deepEqual(readdirSync(dir), [claim.path.slice(dir.length + 1)], 'no temporary file stays');
      const r = readClsactRecord(iface, dir);
      assert.deepEqual([r?.ifname, r?.ifindex, r?.netns, r?.pid], ['eth9', 9, netnsId(), process.pid]);
      assert.equal(readClsactRecord({ name: 'eth9', index: 10 }, dir), undefined, 'another index: another file');
      const taken = claimClsactRecord(iface, dir);
      assert.ok(taken);
      taken.close();
      assert.ok(readClsactRecord(iface, dir), 'close keeps the record');
      claim.release();
      assert.equal(readClsactRecord(iface, dir), undefined);
      assert.throws(() => statSync(dir), /ENOENT/, 'the empty directory went too');
      assert.equal(claimClsactRecord(iface, dir), undefined);
    } finally {
      rmSync(dir.slice(0, -'/tc-top'.length), { recursive: true, force: true });
    }
  });

  it('a holder never drops a newer record; empty records and dead temporary files are swept', () => {
    const dir = scratch();
    try {
      const old = recordClsact(iface, dir);
      const newer = recordClsact(iface, dir); /* renamed over the old one */
      old.release();
      assert.ok(readClsactRecord(iface, dir), 'the newer record stays');
      newer.close();

      writeFileSync(recordPath(9, dir), ''); /* released by a run without root */
      assert.equal(readClsactRecord(iface, dir), undefined, 'an empty record is no record');
      writeFileSync(`${recordPath(8, dir)}.999999999.tmp`, '{'); /* half written by a process that is gone */
      writeFileSync(`${recordPath(7, dir)}.${process.pid}.tmp`, '{'); /* being written */
      writeFileSync(`${dir}/other`, 'x');
      sweepRecords(dir);
      assert.deepEqual(readdirSync(dir).sort(), [`${recordPath(7, dir).slice(dir.length + 1)}.${process.pid}.tmp`, 'other'].sort());

      writeFileSync(recordPath(9, dir), JSON.stringify({ ifname: 'eth9', ifindex: 9, netns: 'cookie:0', pid: 1, created: '' }));
      assert.equal(readClsactRecord(iface, dir), undefined, "another namespace's record does not count");
      renameSync(recordPath(9, dir), recordPath(9, dir).replace('.json', '.bak'));
      forgetClsact(iface, dir); /* nothing to forget: no error */
    } finally {
      rmSync(dir.slice(0, -'/tc-top'.length), { recursive: true, force: true });
    }
  });
});

const FILTERS_REMOVED = [/^tc-top: removed tc ingress filter tctop_tc_in \(id \d+, pref 11376\) from /, /^tc-top: removed tc egress filter tctop_tc_eg \(id \d+, pref 11376\) from /];

describe('the clsact qdisc of a killed legacy run', kernelTest(), () => {
  it('is recorded, reported at the next start, and removed by --cleanup: tc qdisc show as before the run', () =>
    withBed(async (bed) => {
      const before = hookState(bed, bed.nsA, bed.ifA);
      assert.doesNotMatch(before.qdisc, /clsact/);

      const killed = await start(bed, ['--tc-mode', 'legacy']);
      const rec = record(bed);
      assert.ok(rec, 'tc-top recorded the clsact it created');
      assert.equal(rec.ifname, bed.ifA);
      assert.match(rec.netns, /^cookie:\d+$/);
      assert.equal(await killed.stop('SIGKILL'), 'SIGKILL');
      const left = hookState(bed, bed.nsA, bed.ifA);
      assert.match(left.qdisc, /qdisc clsact ffff:/, 'the killed run left its clsact');
      assert.ok(record(bed), 'and its record');

      // A start names the qdisc with the filters (and, before 6.6, adds its own filters to that qdisc).
      const next = await start(bed, []);
      assert.equal(await next.stop('SIGINT'), 0);
      assert.match(
        next.stderr(),
        /has tc-top programs left by a run that was killed \(tc ingress filter tctop_tc_in \(id \d+, pref 11376\), tc egress filter tctop_tc_eg \(id \d+, pref 11376\), the clsact qdisc it added\): remove them with `tc-top --cleanup -i /,
      );

      const lines = await cleanup(bed);
      assert.equal(lines.length, 3, lines.join('\n'));
      assert.match(lines[0]!, FILTERS_REMOVED[0]!);
      assert.match(lines[1]!, FILTERS_REMOVED[1]!);
      assert.equal(lines[2], `tc-top: removed the clsact qdisc tc-top added to ${bed.ifA}`);
      assert.deepEqual(hookState(bed, bed.nsA, bed.ifA), before, 'tc qdisc show (and the filters) exactly as before the run');
      assert.equal(record(bed), undefined, 'the record went with the qdisc');
      assert.deepEqual(await cleanup(bed), [`tc-top: no tc-top programs left over on ${bed.ifA}`]);
    }));

  it('an empty recorded clsact (its filters removed by hand) is reported alone and removed', () =>
    withBed(async (bed) => {
      const before = hookState(bed, bed.nsA, bed.ifA);
      const killed = await start(bed, ['--tc-mode', 'legacy']);
      assert.equal(await killed.stop('SIGKILL'), 'SIGKILL');
      for (const dir of ['ingress', 'egress']) bed.exec(bed.nsA, 'tc', ['filter', 'del', 'dev', bed.ifA, dir, 'pref', '11376']);

      const next = await start(bed, ['--hook', 'xdp', '--xdp-mode', 'generic']);
      assert.equal(await next.stop('SIGINT'), 0);
      assert.match(next.stderr(), /has an empty clsact qdisc that a tc-top run which was killed added: remove it with `tc-top --cleanup -i /);

      assert.deepEqual(await cleanup(bed), [`tc-top: removed the clsact qdisc tc-top added to ${bed.ifA}`]);
      assert.deepEqual(hookState(bed, bed.nsA, bed.ifA), before);
      assert.equal(record(bed), undefined);
    }));

  it('a clsact that was there before survives the killed run and --cleanup, and a clean run', () =>
    withBed(async (bed) => {
      bed.exec(bed.nsA, 'tc', ['qdisc', 'add', 'dev', bed.ifA, 'clsact']);
      const before = hookState(bed, bed.nsA, bed.ifA);
      assert.match(before.qdisc, /qdisc clsact ffff:/);

      const killed = await start(bed, ['--tc-mode', 'legacy']);
      assert.equal(record(bed), undefined, 'a clsact tc-top did not create is not recorded');
      assert.equal(await killed.stop('SIGKILL'), 'SIGKILL');
      const next = await start(bed, []);
      assert.equal(await next.stop('SIGINT'), 0);
      assert.doesNotMatch(next.stderr(), /clsact qdisc/, 'the start names the filters only');

      const lines = await cleanup(bed);
      assert.equal(lines.length, 2, lines.join('\n'));
      assert.match(lines[0]!, FILTERS_REMOVED[0]!);
      assert.match(lines[1]!, FILTERS_REMOVED[1]!);
      assert.deepEqual(hookState(bed, bed.nsA, bed.ifA), before, 'the clsact that was there stays');

      const clean = await start(bed, ['--tc-mode', 'legacy']);
      assert.equal(await clean.stop('SIGTERM'), 0, clean.stderr());
      assert.deepEqual(hookState(bed, bed.nsA, bed.ifA), before);
      assert.deepEqual(await cleanup(bed), [`tc-top: no tc-top programs left over on ${bed.ifA}`]);
    }));

  it('the next legacy run takes over the record: --cleanup keeps the qdisc while it runs, its exit removes it', () =>
    withBed(async (bed) => {
      const before = hookState(bed, bed.nsA, bed.ifA);
      const killed = await start(bed, ['--tc-mode', 'legacy']);
      assert.equal(await killed.stop('SIGKILL'), 'SIGKILL');

      const next = await start(bed, ['--tc-mode', 'legacy']);
      try {
        // Named at start, when only the killed run's filters were on it; then this run's filters join them.
        assert.match(next.stderr(), /pref 11376\), the clsact qdisc it added\): remove them/);
        const lines = await cleanup(bed);
        assert.equal(lines.length, 3, lines.join('\n'));
        assert.match(lines[0]!, FILTERS_REMOVED[0]!);
        assert.match(lines[1]!, FILTERS_REMOVED[1]!);
        assert.equal(lines[2], `tc-top: kept the clsact qdisc tc-top added to ${bed.ifA}: filters use it`);
        assert.match(hookState(bed, bed.nsA, bed.ifA).tcIngress, /pref 11377 bpf chain 0 handle 0x7c70 tctop_tc_in/, 'the running tc-top keeps its filter');
        assert.equal(await next.stop('SIGINT'), 0);
      } finally {
        await next.stop('SIGKILL');
      }
      assert.match(next.stderr(), /removed the clsact qdisc tc-top added to /);
      assert.deepEqual(hookState(bed, bed.nsA, bed.ifA), before);
      assert.equal(record(bed), undefined);
    }));

  it('two legacy runs: the creator quits first, the last one out removes the qdisc', () =>
    withBed(async (bed) => {
      const before = hookState(bed, bed.nsA, bed.ifA);
      const first = await start(bed, ['--tc-mode', 'legacy']);
      const second = await start(bed, ['--tc-mode', 'legacy']);
      try {
        assert.equal(await first.stop('SIGTERM'), 0);
        assert.match(first.stderr(), /kept the clsact qdisc tc-top added to \S+: other filters use it/);
        assert.ok(record(bed), 'the record stays while the qdisc does');
        assert.equal(await second.stop('SIGTERM'), 0);
        assert.match(second.stderr(), /removed the clsact qdisc tc-top added to /);
      } finally {
        await first.stop('SIGKILL');
        await second.stop('SIGKILL');
      }
      assert.deepEqual(hookState(bed, bed.nsA, bed.ifA), before);
      assert.equal(record(bed), undefined);
    }));
});
