/**
 * One side of the slot race test (test/slots.test.ts): runs tc-top's XDP program, inherited as fd 3,
 * with BPF_PROG_TEST_RUN on the CPU it is pinned to, over UDP flows 0..FLOWS-1 in an order of its
 * own (seeded), FRAMES frames in all. Prints "ready", waits for a line on stdin, runs, prints "done".
 *
 * Usage: race-child.ts SEED FLOWS FRAMES
 */
import { createInterface } from 'node:readline';
import { progTestRun } from '../../src/ffi/libbpf.js';
import { frame } from '../helpers/packets.js';

const [seed, flows, frames] = process.argv.slice(2).map(Number) as [number, number, number];
const udp = (i: number) => frame({ ip: { v: 4, src: `10.8.${(i >> 8) & 255}.${i & 255}`, dst: '10.8.255.1' }, l4: { kind: 'udp', sport: 1000 + (i >> 16), dport: 53 } });
const all = Array.from({ length: flows }, (_, i) => udp(i));
let x = seed >>> 0 || 1;
const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) % flows);
const order = Array.from({ length: frames }, next);
const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
for await (const _ of lines) break;
for (const i of order) progTestRun(3, all[i]!);
process.stdout.write('done\n');
lines.close();
