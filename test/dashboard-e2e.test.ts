/**
 * The real binary's --dashboard in a real terminal: tc-top runs in tmux inside a test namespace
 * while UDP streams of three rates cross the veth; the screen is read with capture-pane, keys are
 * sent with send-keys, and q must give the terminal back and leave the interface clean.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hookState, udpStreams, withBed } from './helpers/netns.js';
import { type Terminal, openTerminal, tmuxTest } from './helpers/tmux.js';
import { BIN } from './helpers/run.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('tc-top --dashboard in a real terminal (tmux)', tmuxTest(), () => {
  it('shows the heavy flow first in every panel, sorts and helps on keys, and q leaves the interface clean', () =>
    withBed(async (bed) => {
      const traffic = udpStreams(bed, [[6001, 20], [6002, 5], [6003, 1]]);
      let term: Terminal | undefined;
      /** The flow table's rows: inside the left border, the new-flow mark or a space, then a protocol. */
      const rows = (s: string) => s.split('\n').filter((l) => /^│ [ +](udp|tcp|icmp)/.test(l));
      try {
        const cmd = `ip netns exec ${bed.nsA} ${process.execPath} ${BIN} -i ${bed.ifA} --dashboard -d 0.5; echo EXIT=$?; sleep 30`;
        term = openTerminal(`tct-${process.pid}-dash`, cmd, 160, 50);
        const { screen, keys, waitFor } = term;
        let s = await waitFor((x) => rows(x).length >= 3 && /:6003 /.test(x), 'three flows in the table');
        await sleep(1500); /* a few intervals, so that the rates are settled */
        s = screen();
        assert.match(s, new RegExp(`^tc-top dashboard {2}${bed.ifA}: tc ingress\\+egress \\(tcx\\) {2}in [\\d.]+ [kM]bit/s`, 'm'), `header:\n${s}`);
        assert.match(rows(s)[0]!, /^│ [ +]udp +10\.200\.0\.2:\d+ +10\.200\.0\.1:6001 +in /, `heaviest flow on top:\n${s}`);
        assert.match(s, /RATE▼/);
        assert.match(s, /─ rate in\/out \([kM]bit\/s\), last 5 min ─/);
        assert.match(s, new RegExp(`${bed.ifA} in`), 'the chart legend names the interface');
        assert.match(s, /│10\.200\.0\.2 +█+ +[\d.]+ [kM]bit\/s│/, 'the sender tops the talkers');
        assert.match(s, /tcp +udp +icmp +other/);
        assert.match(s, /100%/, 'all bytes are UDP');
        assert.match(s, /─ events: \+ \d+ created/);

        keys('>');
        s = await waitFor((x) => /AGE▼/.test(x), 'the sort column moved right');
        keys('r');
        s = await waitFor((x) => /AGE▲/.test(x), 'the reversed sort');
        keys('?');
        s = await waitFor((x) => /tc-top dashboard keys/.test(x), 'the help');
        assert.match(s, /q Ctrl-C +detach hooks and quit/);
        keys('Escape');
        await waitFor((x) => !/tc-top dashboard keys/.test(x), 'the help to close');

        keys('q');
        s = await waitFor((x) => /EXIT=\d+/.test(x), 'tc-top to exit');
        assert.match(s, /EXIT=0/);
        assert.match(s, /tc-top: detached tc ingress \(tcx\) from /);
        assert.match(s, /tc-top: detached tc egress \(tcx\) from /);
        assert.doesNotMatch(s, /tc-top dashboard/, 'the normal screen is back');
        assert.equal(term.display('#{cursor_flag} #{alternate_on}').trim(), '1 0', 'cursor visible, alternate screen left');
        const state = hookState(bed, bed.nsA, bed.ifA);
        assert.deepEqual(state.programs, []);
        assert.equal(state.tcIngress + state.tcEgress, '');
      } finally {
        term?.kill();
        traffic.stop();
      }
    }));
});
