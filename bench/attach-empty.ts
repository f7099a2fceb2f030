/**
 * Holds one of bench/empty.bpf.o's programs on an interface until its standard input closes: the
 * end-to-end benchmark's "empty program" configurations, which separate the cost of a hook (XDP
 * native on veth, or a tcx link on TC ingress) from the cost of tc-top's program on it.
 *
 * Also `cgroup`: a cgroup_skb egress program that allows everything, on the cgroup v2 root, as the
 * baseline of the owner programs' egress hook (bench/owners.ts).
 *
 * Usage (inside the namespace of the interface): attach-empty.ts xdp|tc IFACE, or attach-empty.ts
 * cgroup CGROUP2-ROOT.   Prints "attached".
 */
import { constants, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AttachType, BpfObject, XdpFlags, closeFd, ifNameToIndex, linkCreate } from '../src/ffi/libbpf.js';

const [hook, target] = process.argv.slice(2) as ['xdp' | 'tc' | 'cgroup', string];
const obj = BpfObject.open(fileURLToPath(new URL('./empty.bpf.o', import.meta.url)));
// A tcx link needs the attach type at load, as tc-top's own TC programs do.
if (hook === 'tc') obj.setExpectedAttachType('empty_tc', AttachType.TCX_INGRESS);
obj.load();
function attach(): number {
  if (hook === 'cgroup') return linkCreate(obj.programFd('empty_cg_egress'), openSync(target, constants.O_RDONLY | constants.O_DIRECTORY), AttachType.CGROUP_INET_EGRESS);
  const ifindex = ifNameToIndex(target);
  if (ifindex === 0) throw new Error(`no interface named ${target}`);
  return hook === 'xdp'
    ? linkCreate(obj.programFd('empty_xdp'), ifindex, AttachType.XDP, XdpFlags.DRV_MODE)
    : linkCreate(obj.programFd('empty_tc'), ifindex, AttachType.TCX_INGRESS);
}
const link = attach();
process.stdout.write('attached\n');
const release = (): void => {
  closeFd(link);
  obj.close();
  process.exit(0);
};
process.stdin.on('end', release).on('close', release).resume();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, release);
