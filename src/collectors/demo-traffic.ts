/**
 * The demo's traffic, run inside the demo namespaces by `tc-top --demo` (never elsewhere):
 * `server` in the watched namespace, `client` in the other. Bounded: each stops by itself after
 * DEMO_SECONDS, and the demo kills both on exit.
 *
 * The mix: a TCP bulk transfer over IPv4 and another over IPv6, three UDP streams of different
 * rates, ICMP and ICMPv6 (echo with `ping` when the system has it, else the port-unreachable
 * replies to UDP sent to a closed port), and bursts of short TCP connections so that flows are
 * created and expire.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';

import { SERVER_V4, SERVER_V6 } from './demo-addresses.js';

const DEMO_SECONDS = 3600;

const BULK_PORT = 5201;
const UDP_PORTS = [5301, 5302, 5303] as const;
const CLOSED_PORT = 5399;

function server(): void {
  for (const host of [SERVER_V4, SERVER_V6]) {
    net.createServer((s) => s.on('data', () => {}).on('error', () => {})).listen(BULK_PORT, host);
  }
  for (const port of UDP_PORTS) dgram.createSocket('udp4').bind(port, SERVER_V4).on('message', () => {});
}

function bulk(host: string, bytesPerSecond: number): void {
  const chunk = Buffer.alloc(16 * 1024, 0x61);
  const connect = () => {
    const s = net.connect(BULK_PORT, host);
    const timer = setInterval(() => {
      for (let sent = 0; sent < bytesPerSecond / 10; sent += chunk.length) s.write(chunk);
    }, 100);
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(timer);
      setTimeout(connect, 1000);
    });
  };
  connect();
}

function client(): void {
  bulk(SERVER_V4, 4_000_000);
  bulk(SERVER_V6, 1_000_000);
  const udp = dgram.createSocket('udp4');
  const udp6 = dgram.createSocket('udp6');
  udp.on('error', () => {});
  udp6.on('error', () => {});
  const perTick = [20, 5, 1];
  setInterval(() => {
    UDP_PORTS.forEach((port, i) => {
      for (let n = 0; n < perTick[i]!; n++) udp.send(Buffer.alloc(1000), port, SERVER_V4);
    });
  }, 100);
  // ICMP: echo where ping exists; the replies to a closed port otherwise (and as well).
  setInterval(() => {
    udp.send(Buffer.alloc(64), CLOSED_PORT, SERVER_V4);
    udp6.send(Buffer.alloc(64), CLOSED_PORT, SERVER_V6);
  }, 1000);
  for (const [cmd, host] of [['ping', SERVER_V4], ['ping', SERVER_V6]] as const) {
    spawn(cmd, ['-i', '0.5', '-w', String(DEMO_SECONDS), host], { stdio: 'ignore' }).on('error', () => {});
  }
  // Bursts of short connections: new flows appear, then expire after the idle timeout.
  setInterval(() => {
    for (let n = 0; n < 8; n++) {
      const s = net.connect(BULK_PORT, SERVER_V4, () => s.end(Buffer.alloc(512)));
      s.on('error', () => {});
    }
  }, 3000);
}

const role = process.argv[2];
if (role === 'server') server();
else if (role === 'client') client();
else {
  process.stderr.write('usage: demo-traffic.js server|client\n');
  process.exit(2);
}
setTimeout(() => process.exit(0), DEMO_SECONDS * 1000).unref();
