import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import stringWidth from 'string-width';
import { cleanup } from 'ink-testing-library';
import { KEYMAP } from '../src/ui/keymap.js';
import type { Action } from '../src/ui/state.js';
import { at, KEY, renderApp, storeOf, tcp, ticksOf, type Rendered } from './helpers/ui-fixtures.js';

process.env.TZ = 'UTC';

/** f1 fastest, f2 most packets, f3 (older) most bytes; in the second tick f2 leads (then f1 over 2 s). */
const [first, second] = ticksOf([
  at(0, [tcp(1, 0, 0), tcp(2, 0, 0), tcp(3, 50_000, 5)]),
  at(1, [tcp(1, 3000, 10), tcp(2, 2000, 30), tcp(3, 51_000, 25, { proto: 17, dport: 53 })]),
  at(2, [
    tcp(1, 3100, 11, { lastSeenNs: 1e9 }),
    tcp(2, 7000, 80, { lastSeenNs: 2e9 }),
    tcp(3, 52_000, 35, { proto: 17, dport: 53, lastSeenNs: 2e9 }),
  ]),
]);
const tick1: Action = { type: 'tick', tick: first! };
const tick2: Action = { type: 'tick', tick: second! };

/** Source hosts' last octets in table order; '>' marks the selected one. */
function order(app: Rendered): string[] {
  return app
    .lines()
    .flatMap((line) => {
      const m = /^([> ])[+ ](?:\S+\s+)?10\.0\.0\.(\d+)/.exec(line);
      return m ? [`${m[1] === '>' ? '>' : ''}${m[2]}`] : [];
    });
}

async function started(...actions: Action[]): Promise<Rendered> {
  const app = await renderApp(storeOf());
  await app.dispatch(tick1, ...actions);
  return app;
}

afterEach(cleanup);

describe('layout', () => {
  it('fills 80x24 with header, titles, rows and status, never wider than 80', async () => {
    const app = await started();
    const lines = app.lines();
    assert.equal(lines.length, 23, 'one line short of the terminal, so Ink does not clear the screen');
    for (const line of lines) assert.ok(stringWidth(line) <= 80, `too wide: ${line}`);
    assert.match(lines[0]!, /^tc-top  eth0: tc ingress\+egress \(tcx\) +up 0:00:01$/);
    assert.match(lines[1]!, /^in 0 b\/s 0\.0 pkt\/s   out 48 kbit\/s 60 pkt\/s   peak 48 kbit\/s   total 56 kB   █$/);
    assert.match(lines[2]!, /^flows 3   map lru 3\/65536 \(0\.0%\)   evicted 0   failed 0/);
    assert.match(lines[3]!, /^ {2}PROTO  SOURCE {14}DESTINATION {9}DIR    BYTES    PPS    2s RATE▼$/, 'PPS and RATE side by side at 80 columns');
    assert.match(lines[4]!, /^>\+tcp {4}10\.0\.0\.1:40001 {6}192\.0\.2\.1:443 {7}out {5}3 kB {5}10 {3}24 kbit\/s$/);
    assert.match(lines[6]!, /^ \+udp    10\.0\.0\.3:40003 +192\.0\.2\.1:53 .* 51 kB /);
    assert.match(lines[22]!, /^filter none {3}group flow {3}sort 2s RATE▼ {3}1-3 of 3 +\? help  > sort/);
  });

  it('shows every column when there is room, and hides PPS and AGE first when there is not', async () => {
    const wide = await renderApp(storeOf({ columns: 100 }));
    await wide.dispatch(tick1);
    assert.match(wide.lines()[3]!, /PROTO +SOURCE +DESTINATION +DIR +PACKETS +BYTES +PPS +2s RATE▼ +AGE$/);
    assert.match(wide.lines()[4]!, / 10 +3 kB +10 +24 kbit\/s +1s$/);
  });

  it('asks for a bigger terminal instead of drawing a broken layout', async () => {
    const app = await started({ type: 'resize', columns: 50, rows: 10 });
    assert.equal(app.frame(), 'terminal too small: 50x10, tc-top needs 60x12');
    await app.dispatch({ type: 'resize', columns: 80, rows: 11 });
    assert.equal(app.lines().length, 1);
    await app.dispatch({ type: 'resize', columns: 60, rows: 12 });
    assert.equal(app.lines().length, 11);
  });

  it('cuts long addresses with an ellipsis, keeping the port', async () => {
    const [tick] = ticksOf([
      at(0, []),
      at(1, [tcp(1, 100, 1, { family: 6, src: '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1', dst: '2001:db8::1' })]),
    ]);
    const app = await renderApp(storeOf());
    await app.dispatch({ type: 'tick', tick: tick! });
    assert.match(app.lines()[4]!, /\[2001:db8:a…\]:40001 \[2001:db8::1\]:443 /);
  });
});

describe('sorting keys', () => {
  // The selection has not been moved, so it stays on the first row.
  const cases: { keys: string[]; order: string[]; title: RegExp }[] = [
    { keys: [], order: ['>1', '2', '3'], title: /RATE▼/ },
    { keys: ['b'], order: ['>3', '1', '2'], title: /BYTES▼/ },
    { keys: ['p'], order: ['>2', '3', '1'], title: /PACKETS▼/ },
    { keys: ['p', 't'], order: ['>1', '2', '3'], title: /RATE▼/ },
    { keys: ['<'], order: ['>2', '3', '1'], title: /PPS▼/ },
    { keys: ['<', '<', '>'], order: ['>2', '3', '1'], title: /PPS▼/ },
    { keys: ['<', '<'], order: ['>3', '1', '2'], title: /BYTES▼/ },
    { keys: ['r'], order: ['>3', '2', '1'], title: /RATE▲/ },
    { keys: ['b', 'r'], order: ['>2', '1', '3'], title: /BYTES▲/ },
  ];
  for (const c of cases) {
    it(`${c.keys.join(' ') || 'default'}: ${c.order.join(' ')}`, async () => {
      const app = await started();
      await app.press(...c.keys);
      assert.deepEqual(order(app), c.order);
      assert.match(app.lines()[3]!, c.title);
      assert.equal((app.lines()[3]!.match(/[▼▲]/g) ?? []).length, 1, 'one column is marked');
    });
  }
});

describe('selection', () => {
  it('moves with arrows, j/k, PgUp/PgDn, Home/End', async () => {
    const app = await started();
    await app.press(KEY.down);
    assert.deepEqual(order(app), ['1', '>2', '3']);
    await app.press('j', 'j');
    assert.deepEqual(order(app), ['1', '2', '>3']);
    await app.press(KEY.up, 'k');
    assert.deepEqual(order(app), ['>1', '2', '3']);
    await app.press(KEY.end);
    assert.deepEqual(order(app), ['1', '2', '>3']);
    await app.press(KEY.home);
    assert.deepEqual(order(app), ['>1', '2', '3']);
    await app.press(KEY.pageDown);
    assert.deepEqual(order(app), ['1', '2', '>3']);
    await app.press(KEY.pageUp);
    assert.deepEqual(order(app), ['>1', '2', '3']);
  });

  it('follows its flow when a tick re-sorts the table', async () => {
    const app = await started();
    await app.press(KEY.down);
    assert.deepEqual(order(app), ['1', '>2', '3']);
    await app.dispatch(tick2);
    assert.deepEqual(order(app), ['>2', '1', '3']);
    await app.press('b');
    assert.deepEqual(order(app), ['3', '>2', '1']);
  });

  it('scrolls: only the rows that fit are drawn, the status line says which', async () => {
    const [tick] = ticksOf([
      at(0, Array.from({ length: 40 }, (_, i) => tcp(i + 1, 0, 0))),
      at(1, Array.from({ length: 40 }, (_, i) => tcp(i + 1, (40 - i) * 100, 1))),
    ]);
    const app = await renderApp(storeOf());
    await app.dispatch({ type: 'tick', tick: tick! });
    assert.equal(order(app).length, 18);
    assert.match(app.lines()[22]!, /1-18 of 40/);
    await app.press(KEY.end);
    assert.deepEqual(order(app).slice(-2), ['39', '>40']);
    assert.match(app.lines()[22]!, /23-40 of 40/);
  });

  it('marks flows younger than three seconds with +', async () => {
    const [tick] = ticksOf([
      at(10, [tcp(1, 0, 0, { lastSeenNs: 10e9 })]),
      at(11, [tcp(1, 100, 1, { lastSeenNs: 11e9 }), tcp(2, 50, 1, { firstSeenNs: 10.5e9, lastSeenNs: 11e9 })]),
    ]);
    const app = await renderApp(storeOf());
    await app.dispatch({ type: 'tick', tick: tick! });
    assert.match(app.lines()[4]!, /^> tcp {4}10\.0\.0\.1:/);
    assert.match(app.lines()[5]!, /^ \+tcp {4}10\.0\.0\.2:/);
  });
});

describe('filter', () => {
  it('accepts an expression: rows and status line follow', async () => {
    const app = await started();
    await app.press('/');
    assert.match(app.lines()[22]!, /^filter: {4}Enter applies/, 'an empty prompt and its cursor');
    await app.press('u', 'd', 'p');
    assert.match(app.lines()[22]!, /^filter: udp {3}Enter applies/);
    await app.press(KEY.enter);
    assert.deepEqual(order(app), ['>3']);
    assert.match(app.lines()[22]!, /^filter udp {3}group flow/);
  });

  it('rejects a bad expression: the error shows, the previous filter stays', async () => {
    const app = await started();
    await app.press('/', ...'tcp', KEY.enter);
    assert.deepEqual(order(app), ['>1', '2']);
    await app.press('/', KEY.backspace, KEY.backspace, KEY.backspace, ...'port 99999', KEY.enter);
    assert.deepEqual(order(app), ['>1', '2']);
    assert.match(app.lines()[22]!, /^✗ expected a port number \(0-65535\) after 'port' at column 6, found '99999'  fil…$/);
    await app.press(KEY.esc);
    assert.match(app.lines()[22]!, /^filter tcp/);
  });

  it('takes several command keys that arrive in one chunk one by one', async () => {
    const app = await started();
    await app.press('r<');
    assert.match(app.lines()[22]!, /sort (?!RATE)[A-Z]+▲/, "reversed, and the sort moved off RATE");
  });

  it('applies text and Enter that arrive in one chunk (a paste, tmux send-keys)', async () => {
    const app = await started();
    await app.press('/', 'udp\r');
    assert.deepEqual(order(app), ['>3']);
    assert.match(app.lines()[22]!, /^filter udp {3}group flow/);
  });

  it('says so when nothing matches', async () => {
    const app = await started();
    await app.press('/', ...'icmp', KEY.enter);
    assert.match(app.lines()[4]!, /^ {2}no flow matches the filter$/);
    assert.match(app.lines()[22]!, /0 rows/);
  });
});

describe('views and panes', () => {
  it('a groups the flows: by source, then destination', async () => {
    const app = await started();
    await app.press('a');
    assert.match(app.lines()[3]!, /^ {2}SOURCE +FLOWS +PACKETS +BYTES +PPS +2s RATE▼ +AVG +AGE$/);
    assert.deepEqual(order(app), ['>1', '2', '3']);
    assert.match(app.lines()[22]!, /group src/);
    await app.press('a');
    assert.match(app.lines()[3]!, /^ {2}DESTINATION +FLOWS/);
    assert.match(app.lines()[4]!, /^>\+192\.0\.2\.1 +3 +65 +56 kB +60 +48 kbit\/s +862 +1s$/);
  });

  it('space pauses the display while ticks go on, and resumes on the latest', async () => {
    const app = await started();
    await app.press(' ');
    assert.match(app.lines()[22]!, /PAUSED/);
    await app.dispatch(tick2);
    assert.deepEqual(order(app), ['>1', '2', '3']);
    await app.press(' ');
    assert.doesNotMatch(app.lines()[22]!, /PAUSED/);
    assert.deepEqual(order(app), ['>2', '1', '3'], 'the latest tick');
  });

  it('? shows every binding from the keymap; any key closes it', async () => {
    const app = await started();
    await app.press('?');
    const frame = app.frame();
    assert.match(frame, /tc-top keys \(any key closes this help\)/);
    for (const binding of KEYMAP) assert.ok(frame.includes(binding.help), `help lacks '${binding.help}'`);
    assert.match(frame, /PgDn +one page down/);
    assert.match(frame, /q Ctrl-C detach hooks and quit/);
    await app.press('x');
    assert.doesNotMatch(app.frame(), /tc-top keys/);
    assert.deepEqual(order(app), ['>1', '2', '3']);
  });

  it('Enter opens the detail pane of the selected flow, Esc closes it', async () => {
    const app = await started(tick2);
    await app.press(KEY.end, KEY.enter);
    const lines = app.lines();
    assert.equal(lines.length, 23);
    const pane = lines.slice(15, 22).join('\n');
    assert.match(pane, /^── details \(Enter or Esc closes\) ─+$/m);
    assert.match(pane, /^udp {2}10\.0\.0\.3:40003 → 192\.0\.2\.1:53 {2}egress on eth0$/m);
    assert.match(pane, /^packets 35 \(\+10\) {2}·  bytes 52 kB \(\+1 kB\) {2}·  peak 8 kbit\/s 20 pkt\/s$/m);
    assert.match(pane, /^2s 8 kbit\/s 15 pkt\/s {2}·  10s 8 kbit\/s 15 pkt\/s {2}·  40s 8 kbit\/s 15 pkt\/s$/m);
    assert.match(pane, /^first seen 03:04:05 {2}·  last seen 03:04:07 {2}·  duration 2s {2}·  idle 0s$/m);
    assert.match(pane, /^IPv4$/m);
    assert.match(pane, /^rate, last minute {2}[▁-█]{2}$/m);
    await app.press(KEY.esc);
    assert.doesNotMatch(app.frame(), /details/);
  });

  it('the detail pane shows TCP flags', async () => {
    const [tick] = ticksOf([at(0, []), at(1, [tcp(1, 100, 2, { tcpFlags: 0x12 })])]);
    const app = await renderApp(storeOf());
    await app.dispatch({ type: 'tick', tick: tick! });
    await app.press(KEY.enter);
    assert.match(app.frame(), /^tcp flags SA {2}·  IPv4$/m);
  });

  it('the detail pane lists RTT, retransmits and the drop reasons with their counts', async () => {
    const health = (retrans: number, drops: number) => ({
      entries: [
        { id: 's', flows: ['f1'], rtt: { last: 1200, min: 900, max: 1500 }, retrans },
        { id: 'd', flows: ['f1'], ifname: 'eth0', drops: new Map([['NETFILTER_DROP', drops], ['NO_SOCKET', 1]]) },
      ],
      rtt: true,
      retrans: true,
      drops: true,
    });
    const [tick] = ticksOf([{ ...at(0, [tcp(1, 0, 0)]), health: health(2, 1) }, { ...at(1, [tcp(1, 100, 2)]), health: health(5, 4) }]);
    const app = await renderApp(storeOf());
    await app.dispatch({ type: 'tick', tick: tick! });
    await app.press(KEY.enter);
    const frame = app.frame();
    assert.match(frame, /^rtt 1\.20ms \(900us\.\.1\.50ms\) {2}·  retransmits 5 \(\+3\)\ndrops 5 \(\+3\): NETFILTER_DROP 4, NO_SOCKET 1\nrate, last minute/m);
  });

  it('e shows flows created and expired, newest first', async () => {
    const [t1, t2] = ticksOf([
      at(0, [tcp(1, 0, 0)]),
      at(1, [tcp(1, 100, 1), tcp(2, 100, 1, { firstSeenNs: 0.5e9 })]),
      at(40, [tcp(1, 100, 1), tcp(2, 200, 2, { firstSeenNs: 0.5e9, lastSeenNs: 39e9 })]),
    ]);
    const app = await renderApp(storeOf());
    await app.dispatch({ type: 'tick', tick: t1! }, { type: 'tick', tick: t2! });
    await app.press('e');
    const frame = app.frame();
    assert.match(frame, /── events: 1 created, 1 expired, newest first/);
    assert.match(frame, /03:04:45 {2}- expired {2}tcp 10\.0\.0\.1:40001 → 192\.0\.2\.1:443 {2}egress on eth0\n03:04:05 {2}\+ new {6}tcp 10\.0\.0\.2:40002/);
  });

  it('u shows bytes/s; s names ports; n names hosts once resolved', async () => {
    const app = await started();
    await app.press('u');
    assert.match(app.lines()[4]!, /3 kB\/s$/);
    assert.match(app.lines()[1]!, /out 6 kB\/s/);
    await app.press('s');
    assert.match(app.lines()[4]!, /192\.0\.2\.1:https/);
    assert.match(app.lines()[6]!, /192\.0\.2\.1:domain/);
    await app.dispatch({ type: 'names', names: new Map([['192.0.2.1', 'www.example.org']]) });
    assert.doesNotMatch(app.frame(), /www\.example\.org/, 'names are off until n');
    await app.press('n');
    assert.match(app.lines()[4]!, /www\.example\.?…:https /, 'a long name is cut before the port');
    assert.doesNotMatch(app.lines()[4]!, /192\.0\.2\.1/);
  });

  it('D shows a banner and keeps the table', async () => {
    const app = await started();
    await app.press('D');
    assert.match(app.lines()[21]!, /detaching the hooks…/);
    await app.dispatch({ type: 'detached', lines: ['detached tc ingress (tcx) from eth0', 'detached tc egress (tcx) from eth0'] });
    assert.match(app.lines()[21]!, /^ hooks detached, table frozen \(q quits\); detached tc ingress \(tcx\) from eth0; d…$/);
    await app.dispatch(tick2);
    assert.deepEqual(order(app), ['>1', '2', '3'], 'frozen');
  });
});

describe('rate windows, counts, steady order, conversations', () => {
  it('1 2 3 name the window in the RATE title and the status line', async () => {
    const app = await started();
    await app.press('3');
    assert.match(app.lines()[3]!, / 40s RATE▼$/);
    assert.match(app.lines()[22]!, /sort 40s RATE▼/);
    await app.press('2');
    assert.match(app.lines()[3]!, / 10s RATE▼$/);
    await app.press('1');
    assert.match(app.lines()[3]!, / 2s RATE▼$/);
  });

  it('c shows the last interval’s packets and bytes instead of the totals since start', async () => {
    const app = await started();
    assert.match(app.lines()[6]!, /^ \+udp .* {4}51 kB {5}20 /);
    await app.press('c');
    assert.match(app.lines()[3]!, / {3}\+BYTES {4}PPS /, 'at 80 columns, BYTES and the rates');
    assert.match(app.lines()[6]!, /^ \+udp .* {5}1 kB {5}20 /);
    await app.press('p');
    assert.match(app.lines()[3]!, / \+PKTS▼ /, 'sorted by packets, PACKETS shows');
    await app.press('c');
    assert.match(app.lines()[3]!, / PACKETS▼ /);
  });

  it('o says in the status line that the order is frozen', async () => {
    const app = await started();
    await app.press('o');
    assert.match(app.lines()[22]!, /sort 2s RATE▼ {3}ORDER FROZEN {3}1-3 of 3/);
    await app.dispatch(tick2);
    assert.deepEqual(order(app), ['>1', '2', '3']);
    await app.press('o');
    assert.doesNotMatch(app.lines()[22]!, /FROZEN/);
    assert.deepEqual(order(app), ['>2', '1', '3']);
  });

  it('a conversation row shows what came in, what went out, and the sum', async () => {
    const back = (bytes: number) => tcp(1, bytes, bytes / 100, { key: 'r1', src: '192.0.2.1', sport: 443, dst: '10.0.0.1', dport: 40001, dir: 'ingress' });
    const [tick] = ticksOf([at(0, [tcp(1, 0, 0), back(0)]), at(1, [tcp(1, 1000, 10), back(8000)])]);
    const app = await renderApp(storeOf({ columns: 100, aggregation: 'conversation' }));
    await app.dispatch({ type: 'tick', tick: tick! });
    assert.match(app.lines()[3]!, /^ {2}PROTO +LOCAL +REMOTE +IN +OUT +2s RATE▼ +BYTES +PPS$/, 'AGE goes first, PPS stays by the rate');
    assert.match(app.lines()[4]!, /^>\+tcp +10\.0\.0\.1:40001 +192\.0\.2\.1:443 +64 kbit\/s +8 kbit\/s +72 kbit\/s +9 kB +90$/);
    assert.match(app.lines()[22]!, /group conversation/);
  });
});
