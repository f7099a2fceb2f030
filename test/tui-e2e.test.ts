/**
 * The real binary in a real terminal: tc-top runs in tmux inside a test namespace while UDP streams
 * of three different rates cross the veth; keys are sent with send-keys and the screen is read with
 * capture-pane, as a user would see it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { hookState, kernelTest, sh, withBed } from './helpers/netns.js';
import { BIN } from './helpers/run.js';

/** Three UDP streams to 10.200.0.1: port 5001 at 200 pkt/s, 5002 at 50, 5003 at 10, for at most 60 s. */
const SENDER = `
const s = require('node:dgram').createSocket('udp4');
const rates = [[5001, 20], [5002, 5], [5003, 1]];
const end = Date.now() + 60000;
const t = setInterval(() => {
  if (Date.now() > end) { clearInterval(t); s.close(); return; }
  for (const [port, n] of rates) for (let i = 0; i < n; i++) s.send(Buffer.alloc(1000), port, '10.200.0.1');
}, 100);
`;

/** Sinks for the three ports, so that the receiver sends no ICMP port-unreachable back. */
const RECEIVER = `
const dgram = require('node:dgram');
for (const port of [5001, 5002, 5003]) dgram.createSocket('udp4').bind(port, '10.200.0.1').on('message', () => {});
setTimeout(() => process.exit(0), 60000);
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('tc-top in a real terminal (tmux)', kernelTest(), () => {
  it('shows the heaviest flow first, reverses with r, filters with /, and q leaves the interface clean', () =>
    withBed(async (bed) => {
      const session = `tct-${process.pid}-tui`;
      const receiver = spawn('ip', ['netns', 'exec', bed.nsA, process.execPath, '-e', RECEIVER], { stdio: 'ignore' });
      const sender = spawn('ip', ['netns', 'exec', bed.nsB, process.execPath, '-e', SENDER], { stdio: 'ignore' });
      const screen = () => sh('tmux', ['capture-pane', '-p', '-t', session]);
      const keys = (...k: string[]) => sh('tmux', ['send-keys', '-t', session, ...k]);
      const waitFor = async (pred: (s: string) => boolean, what: string, ms = 10_000) => {
        const end = Date.now() + ms;
        for (;;) {
          const s = screen();
          if (pred(s)) return s;
          if (Date.now() > end) throw new Error(`timed out waiting for ${what}; screen:\n${s}`);
          await sleep(100);
        }
      };
      /** The table rows: lines that start with the selection mark or two spaces and a protocol. */
      const rows = (s: string) => s.split('\n').filter((l) => /^[> ][ +](udp|tcp|icmp)/.test(l));
      try {
        const cmd = `ip netns exec ${bed.nsA} ${process.execPath} ${BIN} -i ${bed.ifA} -d 0.5; echo EXIT=$?; sleep 30`;
        sh('tmux', ['new-session', '-d', '-s', session, '-x', '120', '-y', '30', cmd]);

        let s = await waitFor((x) => rows(x).length >= 3 && /5003/.test(x), 'three flows');
        await sleep(1200); /* two full intervals, so that the rates are settled */
        s = screen();
        assert.match(s, new RegExp(`${bed.ifA}: tc ingress\\+egress \\(tcx\\)`), 'header names the hooks');
        assert.match(rows(s)[0]!, /^>[ +]udp .*10\.200\.0\.1:5001 /, `heaviest flow on top:\n${s}`);
        assert.match(s, /RATE▼/);

        keys('r');
        s = await waitFor((x) => /RATE▲/.test(x), 'the reversed sort');
        assert.match(rows(s)[0]!, /10\.200\.0\.1:5003 /, `lightest flow on top after r:\n${s}`);
        assert.match(rows(s)[rows(s).length - 1]!, /10\.200\.0\.1:5001 /);

        keys('r', '>');
        s = await waitFor((x) => /AGE▼/.test(x) || /AGE ▼/.test(x), 'the sort column moved right');

        keys('/');
        await waitFor((x) => /filter: /.test(x), 'the filter prompt');
        keys('udp and port 5002', 'Enter');
        s = await waitFor((x) => rows(x).length === 1, 'one filtered row');
        assert.match(rows(s)[0]!, /10\.200\.0\.1:5002 /);
        assert.match(s, /filter udp and port 5002/);

        keys('q');
        s = await waitFor((x) => /EXIT=\d+/.test(x), 'tc-top to exit');
        assert.match(s, /EXIT=0/);
        assert.match(s, /tc-top: detached tc ingress \(tcx\) from /);
        assert.match(s, /tc-top: detached tc egress \(tcx\) from /);
        assert.equal(sh('tmux', ['display-message', '-p', '-t', session, '#{cursor_flag}']).trim(), '1', 'the cursor is visible again');
        const state = hookState(bed, bed.nsA, bed.ifA);
        assert.deepEqual(state.programs, []);
        assert.equal(state.tcIngress + state.tcEgress, '');
      } finally {
        sh('tmux', ['kill-session', '-t', session], { allowFail: true });
        sender.kill('SIGKILL');
        receiver.kill('SIGKILL');
      }
    }));
});
