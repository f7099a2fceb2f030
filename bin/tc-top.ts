#!/usr/bin/env node
/**
 * tc-top's entry point: parse the command line, check privileges, start the kernel collector,
 * run the chosen view, and own the process exit. Whatever happens, every hook tc-top attached is
 * detached before the process ends (BPF links would go with the process anyway; legacy ones not).
 */
import { hideBin } from 'yargs/helpers';
import { type Options, UsageError, parseArgs } from './cli.js';
import type { Collector } from '../src/collectors/collector.js';
import type { RunLoop } from '../src/app/run-loop.js';

// React's development build is a third slower per frame; tc-top ships the production one.
process.env.NODE_ENV ??= 'production';

const EXIT_ERROR = 1;
const EXIT_USAGE = 2;
/** EX_SOFTWARE: a bug in tc-top (an uncaught exception or rejection); the hooks are detached all the same. */
const EXIT_INTERNAL = 70;

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
async function runPlain(loop: RunLoop, opts: Options): Promise<void> {
  if (opts.output === 'json' || opts.output === 'batch') {
    const { plainWriter } = await import('../src/output/plain.js');
    const write = plainWriter(opts, loop.meta);
    loop.subscribe({ tick: (tick) => process.stdout.write(write(tick)) });
  }
  await loop.run();
}

async function main(): Promise<void> {
  let opts: Options;
  try {
    const parsed = parseArgs(hideBin(process.argv), Boolean(process.stdout.isTTY));
    if ('exit' in parsed) {
      process.stdout.write(parsed.text + '\n');
      return;
    }
    opts = parsed;
  } catch (err) {
    if (err instanceof UsageError) fail(`${err.message} (see tc-top --help)`, EXIT_USAGE);
    throw err;
  }

  if (opts.read !== undefined) return runCapture({ ...opts, read: opts.read });

  const { missingCapabilities } = await import('../src/collectors/privileges.js');
  const missing = missingCapabilities();
  if (missing.length > 0) {
    fail(`missing ${missing.join(', ')}: run as root (sudo tc-top ...) or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON`);
  }

  let collectorModule: typeof import('../src/collectors/kernel-collector.js');
  try {
    collectorModule = await import('../src/collectors/kernel-collector.js');
  } catch (err) {
    if (err instanceof Error && err.name === 'LibbpfMissingError') fail(err.message);
    throw err;
  }
  const { KernelCollector } = collectorModule;
  // Per-read buffers of tens of MB at a million flows: give their memory back when they are dropped.
  const { returnLargeFreesToSystem } = await import('../src/ffi/process.js');
  returnLargeFreesToSystem();
  const { defaultRouteInterface } = await import('../src/collectors/interfaces.js');
  const { describeHook } = await import('../src/collectors/hooks.js');

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

  let ifnames = opts.interfaces;
  if (ifnames.length === 0) {
    const def = defaultRouteInterface();
    if (!def) fail('no default route to pick an interface from: name one with -i IFACE (see `ip link`)', EXIT_USAGE);
    ifnames = [def];
  }

  let collector: Collector;
  try {
    collector = KernelCollector.start({
      interfaces: ifnames,
      hook: opts.hook,
      xdpMode: opts.xdpMode,
      tcMode: opts.tcMode,
      map: opts.map,
      maxFlows: opts.maxFlows,
    });
  } catch (err) {
    const e = err as Error & { log?: string };
    if (e.log && process.env.TC_TOP_DEBUG) process.stderr.write(e.log + '\n');
    fail(e.message + (e.log && !process.env.TC_TOP_DEBUG ? ' (set TC_TOP_DEBUG=1 for the libbpf log)' : ''));
  }

  const abort = new AbortController();
  const { RunLoop } = await import('../src/app/run-loop.js');
  // The one loop of the process: every view and the exporter take their ticks from it.
  const loop = new RunLoop({
    collector,
    interfaces: ifnames,
    intervalS: opts.intervalS,
    idleTimeoutS: opts.idleTimeoutS,
    count: opts.count,
    signal: abort.signal,
  });
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

  for (const notice of collector.notices) process.stderr.write(`tc-top: ${notice}\n`);
  // The TUI's header shows the hooks; the line-oriented views say so on stderr.
  if (opts.output !== 'tui' && opts.output !== 'dashboard') for (const h of collector.hooks) process.stderr.write(`tc-top: attached ${describeHook(h)} to ${h.ifname}\n`);

  // Before any privilege drop: a port below 1024 needs CAP_NET_BIND_SERVICE.
  let exporter: import('../src/output/metrics-server.js').MetricsExporter | undefined;
  if (opts.metrics) {
    const { startMetricsExporter } = await import('../src/output/metrics-server.js');
    try {
      exporter = await startMetricsExporter({ hooks: collector.hooks, listen: opts.metrics, topK: opts.metricsTop });
    } catch (err) {
      fail(err instanceof Error ? err.message : String(err));
    }
    loop.subscribe(exporter.consumer);
    if (opts.output !== 'tui' && opts.output !== 'dashboard') process.stderr.write(`tc-top: metrics at ${exporter.url}\n`);
  }
  loop.subscribe({ tick: () => injectFault(loop.count) });

  if (opts.dropPrivileges) {
    // Links detach by closing their fds, which needs no privilege; legacy filters need
    // CAP_NET_ADMIN to be removed on exit.
    const { CAP, dropPrivileges, dropTarget } = await import('../src/collectors/privileges.js');
    await dropPrivileges(dropTarget(), collector.hooks.every((h) => h.link) ? [] : [CAP.NET_ADMIN]);
  }

  try {
    if (opts.output === 'tui') {
      const { runTui } = await import('../src/ui/run-tui.js');
      await runTui({ loop, options: opts });
    } else if (opts.output === 'dashboard') {
      const { runDashboard } = await import('../src/ui/dashboard/run-dashboard.js');
      await runDashboard({ loop, options: opts });
    } else {
      await runPlain(loop, opts);
    }
  } finally {
    detach();
    await exporter?.close();
  }
}

/** -r FILE: a capture through tc-top's own program; nothing attached. */
async function runCapture(opts: Options & { read: string }): Promise<void> {
  const { missingCapabilities } = await import('../src/collectors/privileges.js');
  // Nothing is attached, but the kernel loads TC and XDP programs for CAP_NET_ADMIN only, and its
  // verifier refuses tc-top's parser without CAP_PERFMON (EACCES): the same three as a live run.
  const missing = missingCapabilities();
  if (missing.length > 0) fail(`missing ${missing.join(', ')}: run as root (sudo tc-top -r ...) or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (the kernel loads TC and XDP programs for no less, even to test-run them)`);
  let read: typeof import('./read.js');
  try {
    read = await import('./read.js');
    const { returnLargeFreesToSystem } = await import('../src/ffi/process.js');
    returnLargeFreesToSystem();
  } catch (err) {
    if (err instanceof Error && err.name === 'LibbpfMissingError') fail(err.message);
    throw err;
  }
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
