/**
 * The kernel features tc-top uses and the Linux release that brought each: one table, from which
 * the README's kernel table, the one-line errors for a feature the kernel lacks, and the tests'
 * idea of what each kernel should do are all taken. Distribution kernels may backport a feature,
 * so tc-top tries first and consults the table only to explain a refusal.
 */
import { release } from 'node:os';

export interface KernelFeature {
  /** What the feature is, as a reader knows it. */
  readonly name: string;
  /** The mainline release that brought it. */
  readonly since: readonly [major: number, minor: number];
  /** Required: tc-top cannot run without it. Otherwise what tc-top does instead. */
  readonly without: 'required' | string;
  /** What in tc-top uses it. */
  readonly use: string;
}

export const FEATURES = {
  tcx: { name: 'tcx links', since: [6, 6], without: 'legacy clsact filters (`--tc-mode auto`): a SIGKILL leaves them, `tc-top --cleanup` removes them', use: '`--hook tc` (`--tc-mode tcx`)' },
  dropReasons: { name: 'skb drop reasons', since: [5, 17], without: 'the drop counts without their reasons (planned)', use: 'the health view (planned)' },
  atomics: { name: 'BPF atomics (fetch-and-or, compare-and-swap)', since: [5, 12], without: 'required', use: 'the counters and the mmap slots' },
  coarseClock: { name: 'bpf_ktime_get_coarse_ns', since: [5, 11], without: 'required', use: 'first and last seen' },
  xdpLinks: { name: 'XDP links', since: [5, 9], without: 'in every kernel tc-top runs on (tc-top would attach through netlink)', use: '`--hook xdp`, `--hook both`' },
  cgroupLinks: { name: 'cgroup BPF links', since: [5, 7], without: 'in every kernel tc-top runs on', use: 'the flow owner (planned)' },
  batchReads: { name: 'batch map reads', since: [5, 6], without: 'in every kernel tc-top runs on (tc-top would read key by key, as it does where a map kind has no batch reads)', use: '`--map lru`, `--map percpu`' },
  mmapArrays: { name: 'mmapable BPF arrays', since: [5, 5], without: 'in every kernel tc-top runs on', use: '`--map mmap` (the default)' },
  tpBtf: { name: 'BTF tracepoints (tp_btf)', since: [5, 5], without: 'in every kernel tc-top runs on', use: 'the health view (planned)' },
  skStorage: { name: 'socket local storage (sk_storage)', since: [5, 2], without: 'in every kernel tc-top runs on', use: 'the flow owner (planned)' },
} as const satisfies Record<string, KernelFeature>;

export type FeatureName = keyof typeof FEATURES;

/** major.minor of a kernel release string ("6.1.0-57-amd64" -> [6, 1]); undefined if unreadable. */
export function parseRelease(rel: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Whether a mainline release of this version has the feature (true when the version is unreadable). */
export function releaseHas(feature: FeatureName, rel: string = release()): boolean {
  const v = parseRelease(rel);
  if (!v) return true;
  const [major, minor] = FEATURES[feature].since;
  return v[0] > major || (v[0] === major && v[1] >= minor);
}

const since = (f: FeatureName) => `Linux ${FEATURES[f].since.join('.')}`;

/** The oldest release that has every required feature. */
export const OLDEST_KERNEL = (Object.keys(FEATURES) as FeatureName[])
  .filter((f) => FEATURES[f].without === 'required')
  .map((f) => FEATURES[f].since)
  .reduce((a, b) => (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a))
  .join('.');

/**
 * The one line for a kernel that refused to load tc-top's programs, when its version lacks a
 * required feature (the newest such feature is named); undefined when the version is not the cause.
 */
export function missingRequired(rel: string = release()): string | undefined {
  const lacking = (Object.keys(FEATURES) as FeatureName[]).filter((f) => FEATURES[f].without === 'required' && !releaseHas(f, rel));
  if (lacking.length === 0) return undefined;
  const f = lacking[0]!;
  return `this kernel (${rel}) has no ${FEATURES[f].name}, which came in ${since(f)}: tc-top needs Linux ${OLDEST_KERNEL} or newer`;
}

/** The one line for `--tc-mode tcx` on a kernel without tcx links. */
export function noTcx(rel: string = release()): string {
  return `this kernel (${rel}) has no ${FEATURES.tcx.name}, which came in ${since('tcx')}: use --tc-mode auto or legacy (clsact filters)`;
}

/** The one notice when `--tc-mode auto` falls back to clsact. */
export function tcxFallback(rel: string = release()): string {
  return `this kernel (${rel}) has no ${FEATURES.tcx.name} (${since('tcx')}): using clsact filters, which a SIGKILL leaves behind (\`tc-top --cleanup\` removes them)`;
}

/** The README's kernel table (a test keeps the README's copy identical), newest feature first. */
export function kernelsMarkdown(): string {
  const rows = (Object.keys(FEATURES) as FeatureName[]).map((k) => {
    const f: KernelFeature = FEATURES[k];
    return `| ${f.name} | ${f.since.join('.')} | ${f.use} | ${f.without === 'required' ? '**required**' : f.without} |`;
  });
  return ['| feature | Linux | used by | without it |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
