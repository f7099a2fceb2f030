/**
 * The command line: yargs definition and validation into typed options. Pure apart from yargs:
 * no kernel, no terminal, so --help and --version work without root and errors are one line.
 */
import yargs from 'yargs';
import { createRequire } from 'node:module';
import { SORT_FIELDS, type SortField } from '../src/model/sort.js';
import { parseFilter } from '../src/model/filter.js';

export interface Options {
  readonly interfaces: readonly string[];
  readonly hook: 'tc' | 'xdp' | 'both';
  readonly xdpMode: 'auto' | 'native' | 'generic';
  readonly tcMode: 'auto' | 'tcx' | 'legacy';
  readonly map: 'lru' | 'percpu';
  readonly maxFlows: number;
  readonly intervalS: number;
  readonly count: number | undefined;
  readonly sort: SortField;
  readonly reverse: boolean;
  readonly idleTimeoutS: number;
  readonly output: 'json' | 'batch' | 'tui';
  readonly filter: string;
  readonly top: number | undefined;
}

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

export function parseArgs(argv: readonly string[], isTty: boolean): Options | { exit: 'help' | 'version'; text: string } {
  let printed = '';
  const parser = yargs([...argv])
    .scriptName('tc-top')
    .usage('$0 [-i IFACE]... [options]\n\nA top-like view of the flows crossing an interface, counted in the kernel by eBPF.')
    .option('interface', { alias: 'i', type: 'string', array: true, description: 'Interface to watch (repeatable); default: the interface of the default route' })
    .option('hook', { choices: ['tc', 'xdp', 'both'] as const, default: 'tc' as const, description: 'tc: TC ingress+egress; xdp: XDP ingress; both: XDP ingress + TC egress' })
    .option('xdp-mode', { choices: ['auto', 'native', 'generic'] as const, default: 'auto' as const, description: 'XDP attach mode; auto tries native, then generic' })
    .option('tc-mode', { choices: ['auto', 'tcx', 'legacy'] as const, default: 'auto' as const, description: 'TC attach: tcx links (kernel 6.6+) or legacy clsact filters; auto prefers tcx' })
    .option('map', { choices: ['lru', 'percpu'] as const, default: 'lru' as const, description: 'Flow map: one LRU hash with atomic adds, or a per-CPU LRU hash' })
    .option('max-flows', { type: 'number', default: 65536, description: 'Capacity of the flow map (the oldest flows are evicted beyond it)' })
    .option('interval', { alias: 'd', type: 'number', default: 1, description: 'Seconds between updates' })
    .option('count', { alias: 'n', type: 'number', description: 'Exit after this many updates' })
    .option('sort', { choices: SORT_FIELDS, default: 'bps' as SortField, description: 'Sort flows by this field (descending)' })
    .option('reverse', { type: 'boolean', default: false, description: 'Sort ascending' })
    .option('idle-timeout', { type: 'number', default: 30, description: 'Seconds without packets after which a flow is expired and removed' })
    .option('filter', { alias: 'f', type: 'string', default: '', description: "Show only flows matching a pcap-like expression, e.g. 'tcp and port 443'" })
    .option('top', { type: 'number', description: 'Show at most this many flows per update (--json, --batch)' })
    .option('json', { type: 'boolean', description: 'Print one JSON object per update (JSON lines)' })
    .option('batch', { alias: 'b', type: 'boolean', description: 'Print plain text tables, like top -b' })
    .conflicts('json', 'batch')
    .strict()
    .help()
    .alias('help', 'h')
    .version(packageVersion())
    .alias('version', 'V')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      throw new UsageError(err?.message ?? msg);
    });
  const args = parser.parseSync([...argv], {}, (_err, _argv, output) => {
    printed = output;
  });
  if (args.help) return { exit: 'help', text: printed };
  if (args.version) return { exit: 'version', text: printed };

  const positive = (name: string, v: number | undefined, integer: boolean): void => {
    if (v === undefined) return;
    if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
      throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got '${v}'`);
    }
  };
  positive('max-flows', args['max-flows'], true);
  positive('interval', args.interval, false);
  positive('count', args.count, true);
  positive('idle-timeout', args['idle-timeout'], false);
  positive('top', args.top, true);
  if (args.interval < 0.05) throw new UsageError(`--interval must be at least 0.05 seconds, got '${args.interval}'`);
  if (args['max-flows'] > 16_777_216) throw new UsageError(`--max-flows is at most 16777216, got '${args['max-flows']}'`);
  if (args.hook === 'tc' && args['xdp-mode'] !== 'auto') throw new UsageError('--xdp-mode needs --hook xdp or --hook both');
  if (args.hook === 'xdp' && args['tc-mode'] !== 'auto') throw new UsageError('--tc-mode needs --hook tc or --hook both');
  const filter = parseFilter(args.filter);
  if (!filter.ok) throw new UsageError(`--filter: ${filter.error}`);
  const interfaces = args.interface ?? [];
  if (new Set(interfaces).size !== interfaces.length) throw new UsageError('an interface is given twice with -i');

  return {
    interfaces,
    hook: args.hook,
    xdpMode: args['xdp-mode'],
    tcMode: args['tc-mode'],
    map: args.map,
    maxFlows: args['max-flows'],
    intervalS: args.interval,
    count: args.count,
    sort: args.sort,
    reverse: args.reverse,
    idleTimeoutS: args['idle-timeout'],
    output: args.json ? 'json' : args.batch || !isTty ? 'batch' : 'tui',
    filter: args.filter,
    top: args.top,
  };
}
