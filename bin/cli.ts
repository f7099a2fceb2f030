/**
 * The command line: yargs definition and validation into typed options. Pure apart from yargs:
 * no kernel, no terminal, so --help and --version work without root and errors are one line.
 */
import yargs from 'yargs';
import { createRequire } from 'node:module';
import { SORT_FIELDS, type SortField } from '../src/model/sort.js';
import { AGGREGATE_MODES, type AggregateMode } from '../src/model/aggregate.js';
import type { Window } from '../src/model/types.js';
import { WINDOWS } from '../src/model/windows.js';
import { parseFilter } from '../src/model/filter.js';
import { parseListenAddress, type ListenAddress } from '../src/output/listen-address.js';
import type { Options } from '../src/app/options.js';
import { parseCollectorAddress } from '../src/output/ipfix-exporter.js';

export type { Options };

/** A command line that cannot run: the message names the fix. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const require = createRequire(import.meta.url);
/** bin/ under tsx, dist/bin/ when compiled: package.json is one or two levels up. */
function packageVersion(): string {
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(path) as { name?: string; version?: string };
      if (pkg.name === 'tc-top' && pkg.version) return pkg.version;
    } catch {
      /* try the next level */
    }
  }
  return 'unknown';
}

/** A numeric option from its text, so that an error can quote what the user typed. */
function numberArg(name: string, raw: string | string[] | undefined, o: { integer: boolean; min: number; max?: number }): number | undefined {
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) throw new UsageError(`--${name} is given more than once`);
  const text = raw.trim();
  const value = Number(text);
  const kind = o.integer ? 'an integer' : 'a number';
  if (text === '' || !Number.isFinite(value) || (o.integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be ${kind}, got '${raw}'`);
  }
  if (value < o.min || (o.max !== undefined && value > o.max)) {
    throw new UsageError(`--${name} must be ${kind} from ${o.min}${o.max !== undefined ? ` to ${o.max}` : ' up'}, got '${raw}'`);
  }
  return value;
}

/** The command line's definition: options, their help, and what conflicts. */
function commandLine(argv: readonly string[]) {
  return yargs([...argv])
    .scriptName('tc-top')
    .usage('$0 [-i IFACE]... [options]\n$0 -r FILE [options]\n\nA top-like view of the flows crossing an interface, counted in the kernel by eBPF.')
    .option('interface', { alias: 'i', type: 'string', array: true, description: 'Interface to watch (repeatable); default: the interface of the default route' })
    .option('hook', { choices: ['tc', 'xdp', 'both'] as const, default: 'tc' as const, description: 'tc: TC ingress+egress; xdp: XDP ingress; both: XDP ingress + TC egress. TC counts a GSO/GRO super-packet as its segments, bytes skb->len (headers once); XDP: see --xdp-mode' })
    .option('xdp-mode', { choices: ['auto', 'native', 'generic'] as const, default: 'auto' as const, description: 'XDP attach mode; auto tries native, then generic. native: each frame before GRO (a packet per segment); generic: after GRO, a GSO/GRO super-packet counts as one packet (XDP cannot see its segments), bytes as TC counts them' })
    .option('tc-mode', { choices: ['auto', 'tcx', 'legacy'] as const, default: 'auto' as const, description: 'TC attach: tcx links (kernel 6.6+) or legacy clsact filters; auto prefers tcx' })
    .option('map', {
      choices: ['mmap', 'lru', 'percpu'] as const,
      default: 'mmap' as const,
      description: 'Flow map. mmap: slots shared with tc-top by mmap, read without a system call; lru: one LRU hash, atomic adds; percpu: a per-CPU LRU hash',
    })
    .option('max-flows', { type: 'string', default: '65536', description: 'Capacity of the flow map (the least recently seen flows are evicted beyond it)' })
    .option('tcp-stats', { type: 'boolean', default: true, description: 'RTT, retransmits and drops per flow (per-event kernel hooks); --no-tcp-stats loads none of them' })
    .option('processes', { type: 'boolean', default: true, description: "The local process and cgroup behind each flow (PROC, pid/comm/uid/cgroup in JSON), from programs on the cgroup v2 root; --no-processes loads none of them" })
    .option('interval', { alias: 'd', type: 'string', default: '1', description: 'Seconds between updates' })
    .option('count', { alias: 'n', type: 'string', description: 'Exit after this many updates' })
    .option('sort', { choices: SORT_FIELDS, default: 'bps' as SortField, description: 'Sort flows by this field (descending)' })
    .option('reverse', { type: 'boolean', default: false, description: 'Sort ascending' })
    .option('window', { choices: WINDOWS, default: 2 as Window, description: 'Seconds the rates are averaged over, for RATE, PPS and --sort bps|pps (keys 1 2 3 in the view)' })
    .option('aggregate', { choices: AGGREGATE_MODES, default: 'flow' as AggregateMode, description: 'One row per flow or per group; conversation: both directions of a 5-tuple in one row; process, cgroup: by the local process or its cgroup' })
    .option('idle-timeout', { type: 'string', default: '30', description: 'Seconds without packets after which a flow is expired and removed' })
    .option('filter', { alias: 'f', type: 'string', default: '', description: "Show only flows matching a pcap-like expression, e.g. 'tcp and port 443'" })
    .option('top', { type: 'string', description: 'Show at most this many flows per update (--json, --batch)' })
    .option('json', { type: 'boolean', description: 'Print one JSON object per update (JSON lines)' })
    .option('batch', { alias: 'b', type: 'boolean', description: 'Print plain text tables, like top -b' })
    .option('read', { alias: 'r', type: 'string', description: "Count a capture (pcap or pcapng; '-': standard input) with tc-top's own program, run on each frame by BPF_PROG_TEST_RUN; frame times drive the clock. Prints the table at the end (--json, --batch)" })
    .option('follow-time', { type: 'boolean', description: 'With -r: print a table per --interval of capture time, not only at the end' })
    .option('demo', { type: 'boolean', description: 'Try tc-top on a test bed of its own: two network namespaces, a veth pair and a traffic mix, removed on exit' })
    .option('cleanup', { type: 'boolean', description: 'Remove tc-top programs left by a killed run from the interfaces (all when no -i), then exit' })
    .option('drop-privileges', { type: 'boolean', default: true, description: 'Once attached, run as the sudo user (or nobody) without capabilities; --no-drop-privileges keeps them' })
    .option('dashboard', { type: 'boolean', description: 'Full-screen dashboard: rate history per interface, top talkers, protocol mix, flows, events' })
    .option('metrics', { type: 'string', description: 'Serve Prometheus/OpenMetrics metrics at http://ADDR:PORT/metrics (default 127.0.0.1:9464)' })
    .option('metrics-top', { type: 'string', default: '50', description: 'Per-flow metric series for at most this many flows by rate; the rest are summed as proto="other"' })
    .option('ipfix', { type: 'string', description: 'Export IPFIX flow records over UDP to the collector at ADDR:PORT (IPv4, or [IPv6]:PORT)' })
    .option('ipfix-active-timeout', { type: 'string', default: '60', description: 'Seconds after which a flow that stays gets an IPFIX record (delta counts), and again every as many' })
    .option('ipfix-domain', { type: 'string', default: '0', description: 'IPFIX observation domain id' })
    .option('ipfix-template-refresh', { type: 'string', default: '600', description: 'Seconds between sendings of the IPFIX templates (a restarted collector decodes records only after the next)' })
    .option('ui', { type: 'boolean', default: true, description: '--no-ui: no view, only the --metrics and --ipfix exporters' })
    .conflicts('json', 'batch')
    .conflicts('dashboard', ['json', 'batch'])
    .strict()
    .help()
    .alias('help', 'h')
    .version(packageVersion())
    .alias('version', 'V')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      throw new UsageError((err?.message ?? msg).replace(/\s*\n\s*/g, ' ').trim());
    });
}

type Args = ReturnType<ReturnType<typeof commandLine>['parseSync']>;

export function parseArgs(argv0: readonly string[], isTty: boolean): Options | { exit: 'help' | 'version'; text: string } {
  // yargs takes a lone '-' after a long option for an argument of its own: `--read -` is `--read=-`.
  const argv = argv0.flatMap((a, i) => (a === '-' && (argv0[i - 1] === '--read' || argv0[i - 1] === '-r') ? [] : (a === '--read' || a === '-r') && argv0[i + 1] === '-' ? [`${a}=-`] : [a]));
  let printed = '';
  const args = commandLine(argv).parseSync([...argv], {}, (_err, _argv, output) => {
    printed = output;
  });
  if (args.help) return { exit: 'help', text: printed };
  if (args.version) return { exit: 'version', text: printed };
  return toOptions(args, argv, isTty);
}

/** The parsed arguments checked together and made into options; a combination that cannot run is a UsageError. */
function toOptions(args: Args, argv: readonly string[], isTty: boolean): Options {

  const maxFlows = numberArg('max-flows', args['max-flows'], { integer: true, min: 1, max: 16_777_216 })!;
  const intervalS = numberArg('interval', args.interval, { integer: false, min: 0.05, max: 3600 })!;
  const count = numberArg('count', args.count, { integer: true, min: 1 });
  const idleTimeoutS = numberArg('idle-timeout', args['idle-timeout'], { integer: false, min: 0.1 })!;
  const top = numberArg('top', args.top, { integer: true, min: 1 });
  const metricsTop = numberArg('metrics-top', args['metrics-top'], { integer: true, min: 0, max: 100_000 })!;
  let metrics: ListenAddress | undefined;
  if (args.metrics !== undefined) {
    if (Array.isArray(args.metrics)) throw new UsageError('--metrics is given more than once');
    const listen = parseListenAddress(args.metrics);
    if (!listen.ok) throw new UsageError(`--metrics: ${listen.error}`);
    metrics = listen.address;
  }
  let ipfix: Options['ipfix'];
  const ipfixGiven = (name: string): boolean => argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (args.ipfix !== undefined) {
    if (Array.isArray(args.ipfix)) throw new UsageError('--ipfix is given more than once');
    const collector = parseCollectorAddress(args.ipfix);
    if (!collector.ok) throw new UsageError(`--ipfix: ${collector.error}`);
    ipfix = {
      collector: collector.address,
      activeTimeoutS: numberArg('ipfix-active-timeout', args['ipfix-active-timeout'], { integer: false, min: 1, max: 86_400 })!,
      domainId: numberArg('ipfix-domain', args['ipfix-domain'], { integer: true, min: 0, max: 4_294_967_295 })!,
      templateRefreshS: numberArg('ipfix-template-refresh', args['ipfix-template-refresh'], { integer: false, min: 1, max: 86_400 })!,
    };
  } else {
    for (const name of ['ipfix-active-timeout', 'ipfix-domain', 'ipfix-template-refresh']) {
      if (ipfixGiven(name)) throw new UsageError(`--${name} needs --ipfix ADDR:PORT`);
    }
  }
  if (!args.ui && !metrics && !ipfix) throw new UsageError('--no-ui needs --metrics ADDR:PORT or --ipfix ADDR:PORT (without a view or an exporter, tc-top would do nothing)');
  if (!args.ui && (args.json || args.batch || args.dashboard)) throw new UsageError('--no-ui runs no view: leave out --json, --batch and --dashboard');
  if (args.dashboard && !isTty) throw new UsageError('--dashboard needs a terminal: use --batch or --json when the output is not one');
  if (args.hook === 'tc' && args['xdp-mode'] !== 'auto') throw new UsageError('--xdp-mode needs --hook xdp or --hook both');
  if (args.hook === 'xdp' && args['tc-mode'] !== 'auto') throw new UsageError('--tc-mode needs --hook tc or --hook both');
  const filter = parseFilter(args.filter);
  if (!filter.ok) throw new UsageError(`--filter: ${filter.error}`);
  const interfaces = args.interface ?? [];
  if (args.demo && interfaces.length > 0) throw new UsageError('--demo watches its own veth: leave out -i');
  if (args.demo && args.cleanup) throw new UsageError('--demo and --cleanup do not go together');
  if (new Set(interfaces).size !== interfaces.length) throw new UsageError('an interface is given twice with -i');
  const read = args.read;
  if (Array.isArray(read)) throw new UsageError('-r is given more than once');
  if (read !== undefined) {
    if (read === '') throw new UsageError("-r needs a file name ('-' for standard input)");
    if (interfaces.length > 0) throw new UsageError('-r reads a capture and watches no interface: leave out -i');
    if (args.demo || args.cleanup) throw new UsageError('-r does not go with --demo or --cleanup');
    if (args.hook === 'both') throw new UsageError('-r runs the frames through one kind of program: --hook tc (ingress and egress by the direction the capture gives) or --hook xdp');
    if (args['xdp-mode'] !== 'auto' || args['tc-mode'] !== 'auto') throw new UsageError('-r attaches nothing: leave out --xdp-mode and --tc-mode');
    if (metrics) throw new UsageError('-r prints the capture\'s tables and exits: --metrics serves a running tc-top, leave it out');
    if (count !== undefined && !args['follow-time']) throw new UsageError('-n counts the tables of --follow-time; without it, -r prints one table, at the end');
  } else if (args['follow-time']) {
    throw new UsageError('--follow-time needs -r FILE');
  }

  return {
    interfaces,
    hook: args.hook,
    xdpMode: args['xdp-mode'],
    tcMode: args['tc-mode'],
    map: args.map,
    maxFlows,
    tcpStats: args['tcp-stats'],
    processes: args.processes,
    intervalS,
    count,
    sort: args.sort,
    reverse: args.reverse,
    window: args.window,
    aggregate: args.aggregate,
    idleTimeoutS,
    output: args.json ? 'json' : args.batch ? 'batch' : !args.ui ? 'none' : args.dashboard ? 'dashboard' : !isTty ? 'batch' : 'tui',
    filter: args.filter,
    top,
    metrics,
    metricsTop,
    ipfix,
    cleanup: args.cleanup ?? false,
    dropPrivileges: args['drop-privileges'],
    demo: args.demo ?? false,
    idleTimeoutGiven: argv.some((a) => a === '--idle-timeout' || a.startsWith('--idle-timeout=')),
    read,
    followTime: args['follow-time'] ?? false,
  };
}
