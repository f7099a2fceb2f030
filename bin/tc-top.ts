#!/usr/bin/env node
/**
 * tc-top's entry point: parse the command line, check privileges, start the kernel collector,
 * run the chosen view, and own the process exit. Whatever happens, every hook tc-top attached is
 * detached before the process ends (BPF links would go with the process anyway; legacy ones not).
 */
import { hideBin } from 'yargs/helpers';
import { type Options, UsageError, parseArgs } from './cli.js';
import { youngGenerationFor } from '../src/app/garbage.js';
import type { Collector } from '../src/collectors/collector.js';
import type { RunLoop } from '../src/app/run-loop.js';
import type { ExportStatus } from '../src/model/types.js';

// React's development build is a third slower per frame; tc-top ships the production one.
process.env.NODE_ENV ??= 'production';

const EXIT_ERROR = 1;
const EXIT_USAGE = 2;
/** EX_SOFTWARE: a bug in tc-top (an uncaught exception or rejection); the hooks are detached all the same. */
const EXIT_INTERNAL = 70;
/** How long the exit waits for the last IPFIX records to reach the kernel. */
const IPFIX_FINISH_MS = 2000;

function fail(message: string, code = EXIT_ERROR): never {
  process.stderr.write(`tc-top: ${message}\n`);
  process.exit(code);
}

/**
 * TC_TOP_FAULT=throw|reject makes the first update end in an uncaught exception or an unhandled
 * rejection: the lifecycle tests use it to prove that even a crash detaches every hook.
 */
function injectFault(n: number): void {
  if (n !== 1) return;
  const fault = process.env.TC_TOP_FAULT;
  if (fault === 'throw') setImmediate(() => {
    throw new Error('injected fault (TC_TOP_FAULT=throw)');
  });
  if (fault === 'reject') void Promise.reject(new Error('injected fault (TC_TOP_FAULT=reject)'));
}

/** --json and --batch: one block per tick on stdout; --no-ui: nothing (the loop feeds the exporter). */
async function runPlain(loop: RunLoop, opts: Options, exports: readonly (() => ExportStatus)[]): Promise<void> {
  if (opts.output === 'json' || opts.output === 'batch') {
    const { plainWriter } = await import('../src/output/plain.js');
    const write = plainWriter(opts, loop.meta, exports);
    loop.subscribe({ tick: (tick) => process.stdout.write(write(tick)) });
  }
  await loop.run();
}

/** The options, or exits: after --help/--version (0), or with one line for a command line that cannot run (2). */
function parseOrExit(): Options | undefined {
  try {
    const parsed = parseArgs(hideBin(process.argv), Boolean(process.stdout.isTTY));
    if (!('exit' in parsed)) return parsed;
    process.stdout.write(parsed.text + '\n');
    return undefined;
  } catch (err) {
    if (err instanceof UsageError) fail(`${err.message} (see tc-top --help)`, EXIT_USAGE);
    throw err;
  }
}

/** Loads libbpf and the collector's module, or exits with one line naming what is missing. */
async function loadKernelSide(why = ''): Promise<typeof import('../src/collectors/kernel-collector.js')> {
  const { missingCapabilities } = await import('../src/collectors/privileges.js');
  const missing = missingCapabilities();
  if (missing.length > 0) {
    fail(`missing ${missing.join(', ')}: run as root (sudo tc-top ...) or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON${why}`);
  }
  try {
    const module = await import('../src/collectors/kernel-collector.js');
    // Per-read buffers of tens of MB at a million flows: give their memory back when they are dropped.
    const { returnLargeFreesToSystem } = await import('../src/ffi/process.js');
    returnLargeFreesToSystem();
    return module;
  } catch (err) {
    if (err instanceof Error && err.name === 'LibbpfMissingError') fail(err.message);
    throw err;
  }
}

/** Loads and attaches on the interfaces asked for (default: the default route's), or exits with the reason. */
async function startCollector(opts: Options, kernel: typeof import('../src/collectors/kernel-collector.js')): Promise<{ collector: Collector; ifnames: readonly string[] }> {
  let ifnames = opts.interfaces;
  if (ifnames.length === 0) {
    const { defaultRouteInterface } = await import('../src/collectors/interfaces.js');
    const def = defaultRouteInterface();
    if (!def) fail('no default route to pick an interface from: name one with -i IFACE (see `ip link`)', EXIT_USAGE);
    ifnames = [def];
  }
  try {
    const { hook, xdpMode, tcMode, map, maxFlows, tcpStats, processes } = opts;
    return { collector: kernel.KernelCollector.start({ interfaces: ifnames, hook, xdpMode, tcMode, map, maxFlows, tcpStats, processes }), ifnames };
  } catch (err) {
    const e = err as Error & { log?: string };
    if (e.log && process.env.TC_TOP_DEBUG) process.stderr.write(e.log + '\n');
    fail(e.message + (e.log && !process.env.TC_TOP_DEBUG ? ' (set TC_TOP_DEBUG=1 for the libbpf log)' : ''));
  }
}

/**
 * Every way out of the process detaches what the loop holds: signals end the loop (then the
 * caller's finally detaches), and the exit handler and a crash detach at once. Returns the detach.
 */
function guardProcess(loop: RunLoop, abort: AbortController): () => void {
  let detachedOnce = false;
  const detach = (): void => {
    if (detachedOnce) return;
    detachedOnce = true;
    // With the lines of a `D` in the TUI, printed now that the terminal is back.
    for (const line of loop.close()) process.stderr.write(`tc-top: ${line}\n`);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => abort.abort());
  process.on('exit', detach);
  const crash = (err: unknown): void => {
    detach();
    const text = err instanceof Error ? (process.env.TC_TOP_DEBUG ? (err.stack ?? err.message) : `${err.message} (TC_TOP_DEBUG=1 shows the stack)`) : String(err);
    process.stderr.write(`tc-top: internal error: ${text}\n`);
    process.exit(EXIT_INTERNAL);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  return detach;
}

type Exporter = import('../src/output/metrics-server.js').MetricsExporter;

/** The consumers beside the view: the exporter (before any privilege drop: a port below 1024 needs it) and the IPFIX export. */
async function startConsumers(loop: RunLoop, opts: Options, lineViews: boolean) {
  let exporter: Exporter | undefined;
  if (opts.metrics) {
    const { startMetricsExporter } = await import('../src/output/metrics-server.js');
    try {
      exporter = await startMetricsExporter({ hooks: loop.meta.hooks, listen: opts.metrics, topK: opts.metricsTop });
    } catch (err) {
      fail(err instanceof Error ? err.message : String(err));
    }
    loop.subscribe(exporter.consumer);
    if (lineViews) process.stderr.write(`tc-top: metrics at ${exporter.url}\n`);
  }
  // Flow records: the sockets need no privilege once open, and the first templates go now.
  let ipfix: import('../src/output/ipfix-exporter.js').IpfixExporter | undefined;
  if (opts.ipfix) {
    const { startIpfixExporter } = await import('../src/output/ipfix-exporter.js');
    ipfix = await startIpfixExporter(opts.ipfix);
    loop.subscribe(ipfix.consumer);
    if (lineViews) process.stderr.write(`tc-top: ipfix to ${ipfix.status().collector}\n`);
  }
  loop.subscribe({ tick: () => injectFault(loop.count) });
  return { exporter, ipfix };
}

/** Runs the loop under the view the options ask for; resolves when the run ends. */
async function runView(loop: RunLoop, opts: Options, exports: readonly (() => ExportStatus)[]): Promise<void> {
  if (opts.output === 'tui') {
    const { runTui } = await import('../src/ui/run-tui.js');
    await runTui({ loop, options: opts, exports });
  } else if (opts.output === 'dashboard') {
    const { runDashboard } = await import('../src/ui/dashboard/run-dashboard.js');
    await runDashboard({ loop, options: opts, exports });
  } else {
    await runPlain(loop, opts, exports);
  }
}

async function main(): Promise<void> {
  const opts = parseOrExit();
  if (!opts) return;
  // Before the map's size of work starts: V8's young generation sized for it.
  youngGenerationFor(opts.maxFlows);
  // A capture file: no interface, its own collector and clock (bin/read.ts).
  if (opts.read !== undefined) return runCapture({ ...opts, read: opts.read });
  const kernel = await loadKernelSide();
  if (opts.demo) {
    const { runDemo } = await import('./demo.js');
    process.exitCode = await runDemo(hideBin(process.argv), opts.idleTimeoutGiven);
    return;
  }
  if (opts.cleanup) {
    const { runCleanup } = await import('./cleanup.js');
    process.exitCode = runCleanup(opts.interfaces, (line) => process.stdout.write(`tc-top: ${line}\n`));
    return;
  }
  const { collector, ifnames } = await startCollector(opts, kernel);

  const abort = new AbortController();
  const { RunLoop } = await import('../src/app/run-loop.js');
  // The one loop of the process: every view and every other consumer take their ticks from it.
  const { intervalS, idleTimeoutS, count } = opts;
  const loop = new RunLoop({ collector, interfaces: ifnames, intervalS, idleTimeoutS, count, signal: abort.signal });
  const detach = guardProcess(loop, abort);

  for (const notice of collector.notices) process.stderr.write(`tc-top: ${notice}\n`);
  // The TUI's header shows the hooks; the line-oriented views say so on stderr.
  const lineViews = opts.output !== 'tui' && opts.output !== 'dashboard';
  const { describeHook } = await import('../src/collectors/hooks.js');
  if (lineViews) for (const h of collector.hooks) process.stderr.write(`tc-top: attached ${describeHook(h)} to ${h.ifname}\n`);
  const { exporter, ipfix } = await startConsumers(loop, opts, lineViews);

  if (opts.dropPrivileges) {
    // Links detach by closing their fds, which needs no privilege; legacy filters need
    // CAP_NET_ADMIN to be removed on exit.
    const { CAP, dropPrivileges, dropTarget } = await import('../src/collectors/privileges.js');
    await dropPrivileges(dropTarget(), collector.hooks.every((h) => h.link) ? [] : [CAP.NET_ADMIN]);
  }

  try {
await runView(loop, opts, ipfix ? [ipfix.status] : []);
  } finally {
    // Every flow's last record (end of run), before the hooks go and before the process ends: q, a
    // signal and --count all come here. A crash does not (it exits at once).
    await ipfix?.finish(IPFIX_FINISH_MS);
    ipfix?.close();
    detach();
    await exporter?.close();
  }
}

/** -r FILE: a capture through tc-top's own program; nothing attached. */
async function runCapture(opts: Options & { read: string }): Promise<void> {
  // Nothing is attached, but the kernel loads TC and XDP programs for CAP_NET_ADMIN only, and its
  // verifier refuses tc-top's parser without CAP_PERFMON (EACCES): the same three as a live run.
  await loadKernelSide(' (the kernel loads TC and XDP programs for no less, even to test-run them)');
  const read = await import('./read.js');
  const abort = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => abort.abort());
  try {
    await read.runRead(opts, abort.signal);
  } catch (err) {
    const e = err as Error & { log?: string };
    if (e.name === 'CaptureError') fail(e.message);
    if (e.log && process.env.TC_TOP_DEBUG) process.stderr.write(e.log + '\n');
    throw err;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`tc-top: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(EXIT_ERROR);
});
