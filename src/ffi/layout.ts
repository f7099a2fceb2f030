/**
 * TypeScript mirror of bpf/tc_top.h: sizes and byte offsets of the map keys and values.
 * The collector checks the loaded maps against these sizes before reading anything.
 */

export const TC_TOP_ABI = 4;

/** struct flow_key, 48 bytes. */
export const FlowKey = {
  size: 48,
  family: 0,
  proto: 1,
  dir: 2,
  ifindex: 4,
  src: 8,
  dst: 24,
  sport: 40,
  dport: 42,
} as const;

/** struct flow_value, 40 bytes (per CPU in the per-CPU map, each slot rounded up to 8 bytes). */
export const FlowValue = {
  size: 40,
  packets: 0,
  bytes: 8,
  firstSeen: 16,
  lastSeen: 24,
  tcpFlags: 32,
  /** Only in a FlowSlot: even while stable, odd while being rewritten. */
  seq: 36,
} as const;

/** struct flow_slot, 88 bytes: a key then its value, one per entry of the mmapable `flow_slots`. */
export const FlowSlot = {
  size: 88,
  key: 0,
  value: 48,
} as const;

/** struct evicted_key, 64 bytes: an entry of flow_evicted, the ring of the keys evicted from their slot (mmap kind). */
export const EvictedKey = {
  size: 64,
  key: 0,
  slot: 48,
  seq: 52,
  /** k + 1 once entry k of the ring's sequence is whole; 0 while it is written. */
  stamp: 56,
} as const;

/** struct counters, 80 bytes, in the per-CPU array `counters` at key 0. */
export const Counters = {
  size: 80,
  packetsIn: 0,
  packetsOut: 8,
  bytesIn: 16,
  bytesOut: 24,
  nonIp: 32,
  malformed: 40,
  updateFailed: 48,
  flowsCreated: 56,
  nonIpBytes: 64,
  malformedBytes: 72,
} as const;

/** struct tc_top_config, the program's .rodata, 16 bytes. */
export const Config = {
  size: 20,
  mapMode: 0,
  slots: 4,
  /** 1: time TCP handshakes into `handshakes`. */
  handshakes: 8,
  /** 1: TC egress publishes a new flow's socket owner into `owners` (tc_top_owner.h). */
  owners: 12,
  /** flow_evicted's entries, a power of two (0: evictions are not written). */
  evicted: 16,
} as const;

/** struct handshake, 24 bytes: the value of `handshakes` (key: struct flow_key of the SYN's direction). */
export const Handshake = {
  size: 24,
  synNs: 0,
  synAckNs: 8,
  ackNs: 16,
  /** HANDSHAKE_ENTRIES: the map's size when handshakes are timed. */
  entries: 16384,
} as const;

/** A batch of frames for the replay build's tctop_replay_batch (tc_top.h, struct tc_top_batch). */
export const Batch = {
  /** Frames a run takes at most (TC_TOP_BATCH_MAX). */
  max: 64,
  /** The head (n, then padding), and each frame's record: len_flags, wire, time low, time high. */
  headSize: 16,
  recordSize: 16,
  egress: 1 << 16,
  cut: 1 << 17,
} as const;

/** enum tc_top_map_mode. */
export const MapMode = { lru: 0, percpu: 1, mmap: 2 } as const;

export const DIR_INGRESS = 0;
export const DIR_EGRESS = 1;

/** Program and map names in bpf/tc_top.bpf.c; all programs share the tc-top prefix. */
export const PROGRAM_PREFIX = 'tctop_';
export const Programs = { xdp: 'tctop_xdp', tcIngress: 'tctop_tc_in', tcEgress: 'tctop_tc_eg' } as const;
/** The replay build's one program: tc-top -r's batches of frames (bpf/tc_top.h, struct tc_top_batch). */
export const ReplayProgram = 'tctop_replay_batch';
export const Maps = {
  flows: 'flows',
  flowIndex: 'flow_index',
  flowSlots: 'flow_slots',
  flowEvicted: 'flow_evicted',
  counters: 'counters',
  handshakes: 'handshakes',
  /** The owner object's maps, created by the live counter object (not the replay build) and reused by it. */
  owners: 'owners',
  sockOwners: 'sock_owners',
  rodata: '.rodata',
  bss: '.bss',
} as const;

/** The program's .bss (its zero-initialised globals), one value at key 0. */
export const Bss = {
  size: 24,
  /** __u32 slot_hand: advanced by every search for a new flow's slot. */
  slotHand: 0,
  /** __u64 owners_written: entries the TC egress hook wrote to `owners`. */
  ownersWritten: 8,
  /** __u64 evicted_head: flows evicted from their slot so far (the next goes to flow_evicted[evicted_head % entries]). */
  evictedHead: 16,
} as const;

/** Per-CPU map values are laid out one slot per possible CPU, each rounded up to 8 bytes. */
export function perCpuSlot(valueSize: number): number {
  return Math.ceil(valueSize / 8) * 8;
}

/** bpf/tc_top_health.h: struct health_key, 40 bytes (a TCP socket from its own side). */
export const HealthKey = {
  size: 40,
  family: 0,
  proto: 1,
  local: 4,
  remote: 20,
  lport: 36,
  rport: 38,
} as const;

/** struct health_value, 56 bytes, one per CPU: retransmits, the latest RTT, two interval banks. */
export const HealthValue = {
  size: 56,
  retrans: 0,
  rttNs: 8,
  rttLastUs: 16,
  bank: 24,
  /** struct rtt_bank, 16 bytes each. */
  bankSize: 16,
  bankEpoch: 0,
  bankMinUs: 4,
  bankMaxUs: 8,
  bankSamples: 12,
} as const;

/** struct drop_key, 56 bytes: a flow_key (dir 0) then the drop reason. The value is a __u64. */
export const DropKey = {
  size: 56,
  flow: 0,
  reason: 48,
} as const;

/** struct health_config, the health object's .rodata, 16 bytes. */
export const HealthConfig = {
  size: 16,
  netnsIno: 0,
  reasonNotDropped: 4,
  reasonConsumed: 8,
  reasonNotSpecified: 12,
} as const;

/** The health object's programs and maps (bpf/tc_top_health.bpf.c). */
export const HealthPrograms = {
  rtt: 'tctop_rtt',
  retrans: 'tctop_retrans',
  retransErr: 'tctop_retrans_err',
  drop: 'tctop_drop',
} as const;
export const HealthMaps = { health: 'health', drops: 'drops', watched: 'watched', rodata: '.rodata', bss: '.bss' } as const;
/** bpf/tc_top_owner.h: struct owner_key, 40 bytes (the key of `owners`). */
export const OwnerKey = {
  size: 40,
  family: 0,
  proto: 1,
  lport: 2,
  rport: 4,
  laddr: 8,
  raddr: 24,
} as const;

/** struct owner_value, 40 bytes. */
export const OwnerValue = {
  size: 40,
  tgid: 0,
  uid: 4,
  cgroupId: 8,
  comm: 16,
  recorded: 32,
} as const;

/** struct owner_config, the owner object's .rodata, 8 bytes. */
export const OwnerConfig = { size: 8, netnsCookie: 0 } as const;

/** The owner object's .bss: __u64 owners_written. */
export const OwnerBss = { size: 8, written: 0 } as const;

/** The owner object's programs (each attached to the cgroup v2 root, but the iterator) and maps. */
export const OwnerPrograms = [
  'tctop_own_create',
  'tctop_own_bind4',
  'tctop_own_bind6',
  'tctop_own_conn4',
  'tctop_own_conn6',
  'tctop_own_tcp',
] as const;
export const OwnerIterator = 'tctop_own_iter';
export const OwnerMaps = { owners: 'owners', sockOwners: 'sock_owners', rodata: '.rodata', bss: '.bss' } as const;
