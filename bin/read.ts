/**
 * `tc-top -r FILE`: counts a capture with tc-top's own program (src/collectors/pcap-collector.ts)
 * and shows it with the usual views. --json and --batch print the table once, at the end of the
 * capture (with the flows expired during it), or once per --interval of capture time with
 * --follow-time; the TUI and the dashboard open on the capture and stay until q. Nothing is
 * attached to any interface.
 */
import type { Options } from '../src/app/options.js';
import type { RunLoop } from '../src/app/run-loop.js';
import type { CaptureProgress, PcapCollector } from '../src/collectors/pcap-collector.js';
import type { FlowRecord, Tick } from '../src/model/types.js';

/** Runs the capture through the views; rejects with a CaptureError (one line) for a file it cannot read, after printing what it read. */
export async function runRead(opts: Options & { read: string }, signal: AbortSignal): Promise<void> {
  const { PcapCollector } = await import('../src/collectors/pcap-collector.js');
  const collector = await PcapCollector.open({ path: opts.read, hook: opts.hook === 'xdp' ? 'xdp' : 'tc', map: opts.map, maxFlows: opts.maxFlows, handshakes: opts.tcpStats });
  const { RunLoop } = await import('../src/app/run-loop.js');
  const interactive = opts.output === 'tui' || opts.output === 'dashboard';
  // The one loop of the process, on the capture's clock.
  const loop = new RunLoop({
    collector,
    interfaces: [collector.name],
    intervalS: opts.intervalS,
    idleTimeoutS: opts.idleTimeoutS,
    count: opts.count,
    signal,
    everyInterval: opts.followTime,
    holdAtEnd: interactive,
  });
  process.on('exit', () => loop.close());
  const progress = !interactive && process.stderr.isTTY ? progressBar(collector) : undefined;
  try {
    if (opts.output === 'tui') {
      const { runTui } = await import('../src/ui/run-tui.js');
      await runTui({ loop, options: opts });
    } else if (opts.output === 'dashboard') {
      const { runDashboard } = await import('../src/ui/dashboard/run-dashboard.js');
      await runDashboard({ loop, options: opts });
    } else if (opts.output === 'json' || opts.output === 'batch') {
      await printTables(loop, opts, () => progress?.clear());
    } else {
      await loop.run();
    }
  } finally {
    progress?.clear();
    loop.close();
    for (const notice of collector.notices) process.stderr.write(`tc-top: ${notice}\n`);
  }
}

/** --json/--batch: each tick with --follow-time, else the last one, with every flow expired during the capture. */
async function printTables(loop: RunLoop, opts: Options, beforePrint: () => void): Promise<void> {
  const { plainWriter } = await import('../src/output/plain.js');
  const write = plainWriter(opts, loop.meta);
  if (opts.followTime) {
    loop.subscribe({
      tick: (tick) => {
        beforePrint();
        process.stdout.write(write(tick));
      },
    });
    return loop.run();
  }
  let last: Tick | undefined;
  const expired: FlowRecord[] = [];
  loop.subscribe({
    tick: (tick) => {
      expired.push(...tick.expired);
      last = tick;
    },
  });
  try {
    await loop.run();
  } finally {
    // Also when the file ends inside a frame: what was read is printed before the error.
    if (last) {
      beforePrint();
      process.stdout.write(write({ ...last, expired, get rates() { return last!.rates; } }));
    }
  }
}

/** A progress line on stderr (a terminal): bytes of the file read, frames, rate. */
function progressBar(collector: PcapCollector): { clear(): void } {
  const started = performance.now();
  let shown = false;
  const draw = (p: CaptureProgress): void => {
    const s = (performance.now() - started) / 1000;
    const rate = s > 0 ? Math.round(p.frames / s) : 0;
    const width = 30;
    const frac = p.totalBytes ? Math.min(1, p.bytesRead / p.totalBytes) : undefined;
    const bar = frac === undefined ? '' : `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ${(frac * 100).toFixed(0).padStart(3)}%  `;
    process.stderr.write(`\r${bar}${p.frames} frames  ${rate} frames/s\x1b[K`);
    shown = true;
  };
  const timer = setInterval(() => draw(collector.progress), 200);
  timer.unref();
  return {
    clear() {
      clearInterval(timer);
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}
