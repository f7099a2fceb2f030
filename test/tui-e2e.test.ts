/**
 * The real binary in a real terminal: tc-top runs in tmux inside a test namespace while UDP streams
 * of three different rates cross the veth; keys are sent with send-keys and the screen is read with
 * capture-pane, as a user would see it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hookState, udpStreams, withBed } from './helpers/netns.js';
import { type Terminal, openTerminal, tmuxTest } from './helpers/tmux.js';
import { BIN } from './helpers/run.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('tc-top in a real terminal (tmux)', tmuxTest(), () => {
  it('shows the heaviest flow first, reverses with r, filters with /, and q leaves the interface clean', () =>
    withBed(async (bed) => {
      const traffic = udpStreams(bed, [[5001, 20], [5002, 5], [5003, 1]]);
      let term: Terminal | undefined;
      /** The table rows: lines that start with the selection mark or two spaces and a protocol. */
      const rows = (s: string) => s.split('\n').filter((l) => /^[> ][ +](udp|tcp|icmp)/.test(l));
      try {
        const cmd = `ip netns exec ${bed.nsA} ${process.execPath} ${BIN} -i ${bed.ifA} -d 0.5; echo EXIT=$?; sleep 30`;
        term = openTerminal(`tct-${process.pid}-tui`, cmd, 120, 30);
        const { screen, keys, waitFor } = term;
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
        s = await waitFor((x) => /AVG▼/.test(x), 'the sort column moved right (to AVG, next to RATE)');

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
        assert.ok(term.cursorVisible(), 'the cursor is visible again');
        const state = hookState(bed, bed.nsA, bed.ifA);
        assert.deepEqual(state.programs, []);
        assert.equal(state.tcIngress + state.tcEgress, '');
      } finally {
        term?.kill();
        traffic.stop();
      }
    }));
});
