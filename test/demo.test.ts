/**
 * `tc-top --demo`: its own namespaces, veth and traffic; real flows of every kind; and nothing
 * left behind, also after the demo itself was killed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SLOW, TC_AUTO_MODE } from './helpers/kernel.js';
import { kernelTest, sh } from './helpers/netns.js';
import { startTcTop } from './helpers/run.js';

function demoLeftovers(): { namespaces: string[]; processes: string[]; links: string[] } {
  return {
    namespaces: sh('ip', ['netns', 'list']).split('\n').filter((l) => l.startsWith('tctop-demo-')),
    processes: sh('ps', ['-eo', 'pid,args']).split('\n').filter((l) => l.includes('demo-traffic.js')),
    links: sh('ip', ['-o', 'link', 'show']).split('\n').filter((l) => /: tcdm\d+[ab]/.test(l)),
  };
}

const NONE = { namespaces: [], processes: [], links: [] };

type Flow = { proto: string; family: number; bps: number; packets: number };

describe('tc-top --demo', kernelTest(), () => {
  it('--json -n 3 shows TCP, UDP, ICMP and IPv6 flows with traffic, then leaves nothing behind', async () => {
    const run = startTcTop(undefined, ['--demo', '--json', '-n', '3']);
    try {
      assert.equal(await run.exited(), 0, run.stderr());
      assert.equal(run.lines.length, 3);
      const flows = run.lines.flatMap((l) => (JSON.parse(l) as { flows: Flow[] }).flows);
      const seen = (pred: (f: Flow) => boolean) => flows.some((f) => pred(f) && f.bps > 0 && f.packets > 0);
      assert.ok(seen((f) => f.proto === 'tcp' && f.family === 4), 'TCP over IPv4');
      assert.ok(seen((f) => f.proto === 'tcp' && f.family === 6), 'TCP over IPv6');
      assert.ok(seen((f) => f.proto === 'udp'), 'UDP');
      assert.ok(seen((f) => f.proto === 'icmp'), 'ICMP');
      assert.ok(seen((f) => f.proto === 'icmpv6'), 'ICMPv6');
      assert.match(run.stderr(), new RegExp(`detached tc ingress \\(${TC_AUTO_MODE}\\) from tcdm\\d+a`));
      assert.deepEqual(demoLeftovers(), NONE);
    } finally {
      await run.stop('SIGKILL');
    }
  });

  // Namespaces, processes and the demo's own record, not the kernel's hooks: under emulation
  // (test:kernels) the test above runs the demo on each kernel.
  const hostOnly = SLOW > 1 ? { skip: 'the bed left by a killed demo is namespaces and processes: runs on the host (npm test)' } : {};
  it('after the demo is killed with SIGKILL, the next --demo removes its bed and works', hostOnly, async () => {
    const killed = startTcTop(undefined, ['--demo', '--json']);
    try {
      await killed.waitFor(() => killed.lines.length > 0, 20_000, 'the first JSON line');
      assert.equal(await killed.stop('SIGKILL'), 'SIGKILL');
      assert.equal(demoLeftovers().namespaces.length, 2, 'a killed demo leaves its bed');
      const next = startTcTop(undefined, ['--demo', '--json', '-n', '1']);
      assert.equal(await next.exited(), 0, next.stderr());
      assert.match(next.stderr(), new RegExp(`tc-top: removed tctop-demo-${killed.child.pid}-a left by a demo that was killed`));
      assert.equal(next.lines.length, 1);
      assert.deepEqual(demoLeftovers(), NONE);
    } finally {
      await killed.stop('SIGKILL');
    }
  });
});
