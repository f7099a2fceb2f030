/** Interface names: validation, lookup, and the default route's interface. */
import { readTextOrEmpty } from './system-files.js';
import { ifNameToIndex } from '../ffi/libbpf.js';

/** Linux interface names: 1 to 15 bytes, no '/', no whitespace, not '.' or '..'. */
const IFNAME = /^[A-Za-z0-9_.:@+-]{1,15}$/;

export class InterfaceError extends Error {
  override readonly name = 'InterfaceError';
}

export interface Iface {
  readonly name: string;
  readonly index: number;
}

export function resolveInterface(name: string): Iface {
  if (!IFNAME.test(name) || name === '.' || name === '..') {
    throw new InterfaceError(`'${name}' is not a valid interface name: use a name from \`ip link\``);
  }
  const index = ifNameToIndex(name);
  if (index === 0) throw new InterfaceError(`no interface named '${name}': use a name from \`ip link\``);
  return { name, index };
}

/** The interface of the IPv4 default route with the lowest metric, else the IPv6 one. */
export function defaultRouteInterface(
  route = readTextOrEmpty('/proc/net/route'),
  ipv6Route = readTextOrEmpty('/proc/net/ipv6_route'),
): string | undefined {
  let best: { name: string; metric: number } | undefined;
  for (const line of route.split('\n').slice(1)) {
    const [name, dest, , flags, , , metric, mask] = line.trim().split(/\s+/);
    if (!name || dest !== '00000000' || mask !== '00000000') continue;
    if ((parseInt(flags ?? '0', 16) & 1) === 0) continue; /* RTF_UP */
    const m = parseInt(metric ?? '0', 10);
    if (!best || m < best.metric) best = { name, metric: m };
  }
  if (best) return best.name;
  for (const line of ipv6Route.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[0] !== '0'.repeat(32) || f[1] !== '00') continue;
    if (f[9] === 'lo') continue;
    return f[9];
  }
  return undefined;
}

