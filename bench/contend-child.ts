/**
 * A helper process for the contention benchmark: it inherits program fds from the parent (fd 3
 * and up), runs BPF_PROG_TEST_RUN on the CPU it is pinned to (taskset), and answers on stdout.
 *
 * stdin, one command a line:
 *   frame HEX                  the frame to run
 *   run FD REPEAT CALLS        CALLS test runs of REPEAT repetitions on fd FD; prints
 *                              {"ns":[kernel ns per repetition, one per call],
 *                               "start","end": CLOCK_MONOTONIC ns around the calls}
 *   exit
 * It prints "ready" once libbpf is loaded.
 */
import { createInterface } from 'node:readline';
import { progTestRun } from '../src/ffi/libbpf.js';

let data = Buffer.alloc(0);
const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
for await (const line of lines) {
  const [cmd, ...args] = line.trim().split(/\s+/);
  if (cmd === 'frame') data = Buffer.from(args[0]!, 'hex');
  else if (cmd === 'run') {
    const [fd, repeat, calls] = args.map(Number) as [number, number, number];
    const ns: number[] = [];
    const start = Number(process.hrtime.bigint());
    for (let i = 0; i < calls; i++) ns.push(progTestRun(fd, data, repeat).durationNs);
    const end = Number(process.hrtime.bigint());
    process.stdout.write(JSON.stringify({ ns, start, end }) + '\n');
  } else if (cmd === 'exit') break;
}
lines.close();
