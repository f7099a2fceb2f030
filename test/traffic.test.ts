/**
 * Real traffic through the kernel stack (not crafted frames): a TCP transfer and a UDP exchange
 * between two test namespaces, seen by tc-top on one end. Segmentation and ACKs are the kernel's
 * business, so this checks what is certain: every payload byte is inside the flow's bytes, the
 * TCP handshake and close are in the flags, and both directions are seen.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernelTest, withBed } from './helpers/netns.js';
import { startTcTop } from './helpers/run.js';

const PAYLOAD = 1_000_000;

/** A TCP sink and a client that sends PAYLOAD bytes, then a UDP echo of 5 datagrams, in B and A. */
const SERVER = `
const net = require('node:net'); const dgram = require('node:dgram');
const srv = net.createServer((s) => { let n = 0; s.on('data', (d) => (n += d.length)); s.on('end', () => { s.end(); srv.close(); }); });
const u = dgram.createSocket('udp4'); let seen = 0;
u.on('message', (m, r) => { u.send(m, r.port, r.address); if (++seen === 5) setTimeout(() => u.close(), 100); });
srv.listen(5201, '10.200.0.2', () => u.bind(5301, '10.200.0.2', () => console.log('ready')));
`;
const CLIENT = `
const net = require('node:net'); const dgram = require('node:dgram');
const c = net.connect(5201, '10.200.0.2', () => { c.end(Buffer.alloc(${PAYLOAD}, 1)); });
c.on('close', () => {
  const u = dgram.createSocket('udp4'); let got = 0;
  u.bind(5302, '10.200.0.1', () => { for (let i = 0; i < 5; i++) u.send(Buffer.alloc(200), 5301, '10.200.0.2'); });
  u.on('message', () => { if (++got === 5) { u.close(); console.log('done'); } });
});
`;

describe('real traffic through the kernel stack', kernelTest(), () => {
  for (const hook of ['tc', 'both'] as const) {
    it(`TCP transfer and UDP exchange (--hook ${hook})`, () =>
      withBed(async (bed) => {
        const run = startTcTop(bed.nsA, ['-i', bed.ifA, '--hook', hook, '--json', '-d', '0.2', ...(hook === 'both' ? ['--xdp-mode', 'generic'] : [])]);
        try {
          await run.waitFor(() => run.lines.length > 0, 15_000, 'the first JSON line');
          const { spawn } = await import('node:child_process');
          const server = spawn('ip', ['netns', 'exec', bed.nsB, process.execPath, '-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
          await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
          const client = bed.exec(bed.nsA, process.execPath, ['-e', CLIENT]);
          assert.match(client, /done/);
          await new Promise<void>((resolve) => server.on('exit', () => resolve()));

          type F = { proto: string; src: string; sport: number; dst: string; dport: number; dir: string; packets: number; bytes: number; tcp_flags: string };
          const flows = (): F[] => (JSON.parse(run.lines[run.lines.length - 1]!) as { flows: F[] }).flows;
          const find = (proto: string, dir: string, port: number) => flows().find((f) => f.proto === proto && f.dir === dir && (f.dport === port || f.sport === port));
          await run.waitFor(() => (find('udp', 'ingress', 5301)?.packets ?? 0) >= 5 && /F/.test(find('tcp', 'ingress', 5201)?.tcp_flags ?? ''), 10_000, 'both flows');

          const up = find('tcp', 'egress', 5201)!;
          const down = find('tcp', 'ingress', 5201)!;
          assert.equal(up.src, '10.200.0.1');
          assert.equal(up.dst, '10.200.0.2');
          assert.ok(up.bytes > PAYLOAD, `egress bytes ${up.bytes} hold the ${PAYLOAD}-byte payload`);
          assert.ok(up.bytes < PAYLOAD * 1.1, `egress bytes ${up.bytes} are not wildly more than sent`);
          assert.match(up.tcp_flags, /^(?=.*S)(?=.*A)(?=.*F)/, `client flags ${up.tcp_flags}`);
          assert.match(down.tcp_flags, /^(?=.*S)(?=.*A)(?=.*F)/, `server flags ${down.tcp_flags}`);
          // GSO super-packets count as the segments they become on the wire (MSS 1448 at MTU 1500).
          assert.ok(up.packets >= Math.floor(PAYLOAD / 1448), `egress packets ${up.packets} count wire segments`);

          const uOut = find('udp', 'egress', 5301)!;
          const uIn = find('udp', 'ingress', 5301)!;
          assert.deepEqual([uOut.packets, uOut.bytes], [5, 5 * (14 + 20 + 8 + 200)]);
          assert.deepEqual([uIn.packets, uIn.bytes], [5, 5 * (14 + 20 + 8 + 200)]);
          assert.equal(await run.stop('SIGINT'), 0);
        } finally {
          await run.stop('SIGKILL');
        }
      }));
  }
});
