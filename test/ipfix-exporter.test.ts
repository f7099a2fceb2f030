/**
 * The --ipfix exporter over a real UDP socket on the loopback, fed by the real run loop over
 * scripted snapshots: templates first, records per tick, the end-of-run records from finish(), and a
 * collector that is not there counted as send errors (never thrown). The views' share: the JSON
 * member and the header text.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { describe, it } from 'node:test';
import { RunLoop } from '../src/app/run-loop.js';
import { ScriptedCollector } from '../src/collectors/scripted-collector.js';
import { exportText } from '../src/model/text.js';
import { startIpfixExporter } from '../src/output/ipfix-exporter.js';
import { exportJson, plainWriter } from '../src/output/plain.js';
import { at, HOOKS, META, tcp } from './helpers/ui-fixtures.js';

async function listener(): Promise<{ socket: Socket; port: number; messages: Buffer[] }> {
  const socket = createSocket('udp4');
  const messages: Buffer[] = [];
  socket.on('message', (m) => messages.push(m));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { socket, port: socket.address().port, messages };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

/** Polls until the condition holds (at most 5 s: a loaded machine delays the loopback's delivery). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('IPFIX exporter', () => {
  it('sends the templates at start, the records of each tick, and every flow at finish()', async () => {
    const l = await listener();
    try {
      const snaps = [0, 1, 2, 3].map((s) => at(s, [tcp(1, 1000 * (s + 1), 10 * (s + 1), { lastSeenNs: s * 1e9 }), tcp(2, 500, 5, { firstSeenNs: 0, lastSeenNs: 0 })]));
      const loop = new RunLoop({ collector: new ScriptedCollector(snaps, { hooks: HOOKS }), interfaces: ['eth0'], intervalS: 1, idleTimeoutS: 30 });
      const ipfix = await startIpfixExporter({ collector: { host: '127.0.0.1', port: l.port }, activeTimeoutS: 2, domainId: 9, templateRefreshS: 600 });
      loop.subscribe(ipfix.consumer);
      await until(() => l.messages.length >= 1, 'the templates');
      await settle();
      assert.equal(l.messages.length, 1);
      assert.equal(l.messages[0]!.readUInt16BE(16), 2, 'a template set first');
      assert.equal(l.messages[0]!.readUInt32BE(12), 9, 'the observation domain');
      loop.prime();
      loop.step();
      loop.step(); // second 2: both flows past the active timeout
      await settle();
      assert.equal(ipfix.status().records, 2);
      loop.step();
      await ipfix.finish(1000);
      await until(() => l.messages.length >= 3, 'the end-of-run records');
      await settle();
      // f1's last second (forced end); f2 counted nothing since its record.
      assert.deepEqual(ipfix.status(), { kind: 'ipfix', collector: `127.0.0.1:${l.port}`, records: 3, messages: 3, sendErrors: 0, lastError: undefined });
      assert.equal(l.messages.length, 3);
      assert.equal(l.messages[2]!.readUInt32BE(8), 2, 'sequence: the records sent before');
      ipfix.close();
    } finally {
      l.socket.close();
    }
  });

  it('counts the sends to a collector that is not there, and goes on', async () => {
    // A port nothing listens on: the loopback answers ICMP port unreachable.
    const l = await listener();
    const port = l.port;
    l.socket.close();
    const snaps = [0, 1, 2, 3, 4].map((s) => at(s, [tcp(1, 1000 * (s + 1), 10 * (s + 1), { lastSeenNs: s * 1e9 })]));
    const loop = new RunLoop({ collector: new ScriptedCollector(snaps, { hooks: HOOKS }), interfaces: ['eth0'], intervalS: 1, idleTimeoutS: 30 });
    const ipfix = await startIpfixExporter({ collector: { host: '127.0.0.1', port }, activeTimeoutS: 1, domainId: 0, templateRefreshS: 600 });
    loop.subscribe(ipfix.consumer);
    loop.prime();
    for (let k = 0; k < 4; k++) {
      loop.step();
      await settle();
    }
    await ipfix.finish(1000);
    const s = ipfix.status();
    assert.ok(s.sendErrors >= 2, `send errors: ${s.sendErrors}`);
    assert.equal(s.lastError, 'ECONNREFUSED');
    ipfix.close();
  });

  it('answers an IPv6 collector from an IPv6 socket', async () => {
    const socket = createSocket('udp6');
    const got: Buffer[] = [];
    socket.on('message', (m) => got.push(m));
    await new Promise<void>((r) => socket.bind(0, '::1', r));
    try {
      const ipfix = await startIpfixExporter({ collector: { host: '::1', port: socket.address().port }, activeTimeoutS: 60, domainId: 0, templateRefreshS: 600 });
      await settle();
      assert.equal(got.length, 1);
      assert.equal(ipfix.status().collector, `[::1]:${socket.address().port}`);
      ipfix.close();
    } finally {
      socket.close();
    }
  });

  it('shows its counts in the JSON lines, the batch summary and the headers', () => {
    const status = { kind: 'ipfix', collector: '192.0.2.10:4739', records: 120, messages: 4, sendErrors: 3, lastError: 'ECONNREFUSED' };
    const snaps = [at(0, [tcp(1, 100, 1)]), at(1, [tcp(1, 200, 2)])];
    const loop = new RunLoop({ collector: new ScriptedCollector(snaps, { hooks: HOOKS }), interfaces: ['eth0'], intervalS: 1, idleTimeoutS: 30 });
    loop.prime();
    const tick = loop.step();
    const opts = { output: 'json', filter: '', aggregate: 'flow', sort: 'bps', window: 2, reverse: false, top: undefined } as const;
    const line = JSON.parse(plainWriter(opts, META, [() => status])(tick)) as Record<string, unknown>;
    assert.deepEqual(line.ipfix, { collector: '192.0.2.10:4739', records: 120, messages: 4, send_errors: 3, last_error: 'ECONNREFUSED' });
    assert.deepEqual(exportJson({ ...status, sendErrors: 0, lastError: undefined }).last_error, null);
    assert.equal('ipfix' in (JSON.parse(plainWriter(opts, META)(tick)) as object), false, 'no member without --ipfix');
    assert.match(plainWriter({ ...opts, output: 'batch' }, META, [() => status])(tick), /^ipfix: to 192\.0\.2\.10:4739 {2}records 120 {2}messages 4 {2}send-errors 3 \(ECONNREFUSED\)$/m);
    assert.equal(exportText(status), 'ipfix 120 rec 3 send errors (ECONNREFUSED)');
    assert.equal(exportText({ ...status, sendErrors: 0 }), 'ipfix 120 rec');
  });
});
