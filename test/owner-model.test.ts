/**
 * The owner join (src/model/owners.ts), table by table: which socket keys may own a flow (TCP's
 * own 4-tuple only, UDP's wildcards only on this namespace's addresses, ICMP echo only), the
 * column carried from tick to tick (resolved once; a process that exits keeps its flows; a flow
 * without one is looked up again only while young), and the container names of cgroup paths.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressSortKey } from '../src/model/address.js';
import { RecordFlowSet } from '../src/model/flow-set.js';
import { ANY4, ANY6, candidateKeys, containerName, lookupOwner, NONE, OwnerColumn, RETRY_NS, tupleKey, type Owner, type OwnerSample } from '../src/model/owners.js';
import { matchRows } from '../src/model/rates.js';
import { flow, snapshot } from './helpers/model-fixtures.js';
import type { FlowRecord } from '../src/model/types.js';

const A = (t: string) => addressSortKey(t);
const HERE = '10.0.0.1';
const LOCAL = new Set([A(HERE), A('fd00::1')]);
const set = (...flows: FlowRecord[]) => new RecordFlowSet(flows);

describe('candidateKeys: the sockets that may own a flow', () => {
  const cases: [string, FlowRecord, string[]][] = [
    ['tcp egress: its own 4-tuple, local first', flow({ proto: 6, src: HERE, sport: 40000, dst: '192.0.2.1', dport: 443, dir: 'egress' }), [tupleKey(6, A(HERE), 40000, A('192.0.2.1'), 443)]],
    ['tcp ingress: seen from the local side', flow({ proto: 6, src: '192.0.2.1', sport: 443, dst: HERE, dport: 40000, dir: 'ingress' }), [tupleKey(6, A(HERE), 40000, A('192.0.2.1'), 443)]],
    [
      'udp to a local address: connected, bound to it, bound to any (IPv4 and dual-stack)',
      flow({ proto: 17, src: '192.0.2.9', sport: 33000, dst: HERE, dport: 53, dir: 'ingress' }),
      [tupleKey(17, A(HERE), 53, A('192.0.2.9'), 33000), tupleKey(17, A(HERE), 53, ANY4, 0), tupleKey(17, ANY4, 53, ANY4, 0), tupleKey(17, ANY6, 53, ANY6, 0)],
    ],
    [
      'udp forwarded through: no socket bound to any address may take it',
      flow({ proto: 17, src: '192.0.2.9', sport: 33000, dst: '198.51.100.7', dport: 53, dir: 'ingress' }),
      [tupleKey(17, A('198.51.100.7'), 53, A('192.0.2.9'), 33000), tupleKey(17, A('198.51.100.7'), 53, ANY4, 0)],
    ],
    [
      'udp over IPv6',
      flow({ family: 6, proto: 17, src: 'fd00::1', sport: 5000, dst: 'fd00::2', dport: 6000, dir: 'egress' }),
      [tupleKey(17, A('fd00::1'), 5000, A('fd00::2'), 6000), tupleKey(17, A('fd00::1'), 5000, ANY6, 0), tupleKey(17, ANY6, 5000, ANY6, 0)],
    ],
    ['icmp echo request out', flow({ proto: 1, src: HERE, dst: '192.0.2.1', sport: 0, dport: 0x0800, dir: 'egress' }), [tupleKey(1, A(HERE), 0, A('192.0.2.1'), 0)]],
    ['icmp echo reply in', flow({ proto: 1, src: '192.0.2.1', dst: HERE, sport: 0, dport: 0x0000, dir: 'ingress' }), [tupleKey(1, A(HERE), 0, A('192.0.2.1'), 0)]],
    ["icmp echo reply out: the kernel's own answer", flow({ proto: 1, src: HERE, dst: '192.0.2.1', sport: 0, dport: 0x0000, dir: 'egress' }), []],
    ["icmp port unreachable: the kernel's own", flow({ proto: 1, src: HERE, dst: '192.0.2.1', sport: 0, dport: 0x0303, dir: 'egress' }), []],
    ['icmpv6 echo request out', flow({ family: 6, proto: 58, src: 'fd00::1', dst: 'fd00::2', sport: 0, dport: 128 << 8, dir: 'egress' }), [tupleKey(58, A('fd00::1'), 0, A('fd00::2'), 0)]],
    ['gre: no sockets', flow({ proto: 47, src: HERE, dst: '192.0.2.1', sport: 0, dport: 0, dir: 'egress' }), []],
  ];
  for (const [name, f, want] of cases) it(name, () => assert.deepEqual(candidateKeys(set(f), 0, LOCAL), want));
});

const curl: Owner = { pid: 7, comm: 'curl', uid: 0, user: 'root', cgroup: '/', container: undefined };
const dns: Owner = { pid: 8, comm: 'resolved', uid: 101, user: 'systemd-resolve', cgroup: '/system.slice/systemd-resolved.service', container: 'systemd-resolved' };
const sample = (byTuple: [string, number][]): OwnerSample => ({ table: [curl, dns], byTuple: new Map(byTuple), local: LOCAL });

describe('lookupOwner: the best key wins', () => {
  const f = flow({ proto: 17, src: '192.0.2.9', sport: 33000, dst: HERE, dport: 53, dir: 'ingress' });
  it('a connected socket before a wildcard one', () => {
    const s = sample([[tupleKey(17, ANY4, 53, ANY4, 0), 1], [tupleKey(17, A(HERE), 53, A('192.0.2.9'), 33000), 0]]);
    assert.equal(lookupOwner(set(f), 0, s), 0);
  });
  it('a dual-stack socket on :: takes IPv4', () => assert.equal(lookupOwner(set(f), 0, sample([[tupleKey(17, ANY6, 53, ANY6, 0), 1]])), 1));
  it('none', () => assert.equal(lookupOwner(set(f), 0, sample([])), NONE));
});

describe('OwnerColumn: resolved once, carried from tick to tick', () => {
  const out = flow({ key: 'out', proto: 6, src: HERE, sport: 40000, dst: '192.0.2.1', dport: 443, dir: 'egress', firstSeenNs: 0 });
  const fwd = flow({ key: 'fwd', proto: 6, src: '192.0.2.5', sport: 1, dst: '192.0.2.6', dport: 2, dir: 'egress', firstSeenNs: 0 });
  const key = tupleKey(6, A(HERE), 40000, A('192.0.2.1'), 443);
  it('keeps an owner when its socket is gone from the kernel map (the process exited and its entry was evicted)', () => {
    const s1 = snapshot({ monoNs: 1e9, flows: [out, fwd] });
    const c1 = OwnerColumn.join(s1, s1.flows, sample([[key, 0]]), s1.monoNs, undefined, matchRows(undefined, s1));
    assert.equal(c1.owner(0), curl);
    assert.equal(c1.owner(1), null);
    const s2 = snapshot({ monoNs: 2e9, flows: [fwd, out] });
    const c2 = OwnerColumn.join(s2, s2.flows, sample([]), s2.monoNs, s1, matchRows(s1, s2));
    assert.equal(c2.owner(1), curl, 'carried, not looked up again');
  });
  it('looks a flow without an owner up again while it is young, not after', () => {
    const s1 = snapshot({ monoNs: 1e9, flows: [out] });
    const c1 = OwnerColumn.join(s1, s1.flows, sample([]), s1.monoNs, undefined, matchRows(undefined, s1));
    assert.equal(c1.owner(0), null);
    const s2 = snapshot({ monoNs: 2e9, flows: [out] });
    assert.equal(OwnerColumn.join(s2, s2.flows, sample([[key, 0]]), s2.monoNs, s1, matchRows(s1, s2)).owner(0), curl, 'published after its first packet');
    const s3 = snapshot({ monoNs: 1e9 + RETRY_NS + 1, flows: [out] });
    const c3 = OwnerColumn.join(s3, s3.flows, sample([]), s3.monoNs, undefined, matchRows(undefined, s3));
    assert.equal(c3.owner(0), null);
    const s4 = snapshot({ monoNs: 2e9 + RETRY_NS, flows: [out] });
    assert.equal(OwnerColumn.join(s4, s4.flows, sample([[key, 0]]), s4.monoNs, s3, matchRows(s3, s4)).owner(0), null, 'settled as none');
  });
});

describe('containerName: a short name for a cgroup path', () => {
  const hex = '0123456789abcdef'.repeat(4);
  const cases: [string | undefined, string | undefined][] = [
    [`/system.slice/docker-${hex}.scope`, '0123456789ab'],
    [`/docker/${hex}`, '0123456789ab'],
    [`/machine.slice/libpod-${hex}.scope/container`, '0123456789ab'],
    [`/system.slice/containerd.service/cri-containerd-${hex}.scope`, '0123456789ab'],
    ['/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice', '1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901'],
    [`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/cri-containerd-${hex}.scope`, '1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901'],
    ['/kubepods/besteffort/pod1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901/' + hex, '1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901'],
    ['/system.slice/ssh.service', 'ssh'],
    ['/user.slice/user-1000.slice/session-3.scope', 'session-3'],
    ['/system.slice', undefined],
    ['/', undefined],
    ['/tct-1-own', undefined],
    [undefined, undefined],
  ];
  for (const [path, want] of cases) it(String(path), () => assert.equal(containerName(path), want));
});
