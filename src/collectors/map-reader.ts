/**
 * Reads every entry of a hash map into two flat buffers (keys, values), in batches of
 * bpf_map_lookup_batch, falling back to get_next_key + lookup where the kernel refuses batches
 * (before 5.6), as BCC's map_helpers.c does. Each read's keys get a buffer of their own, which the
 * snapshot keeps; values go batch by batch to a sink (the collector decodes them into columns), so
 * no read holds every value at once.
 */
import { BpfError } from '../ffi/errors.js';
import { mapGetNextKey, mapLookupBatch, mapLookupElem } from '../ffi/libbpf.js';

export type ReadMethod = 'batch' | 'iterate';

export interface MapEntries {
  readonly keys: Buffer;
  /** Every entry's value; empty when they went to a ValueSink instead. */
  readonly values: Buffer;
  readonly count: number;
}

/** Takes the values of a read as they arrive, so that a read needs no buffer for all of them. */
export interface ValueSink {
  /** A read (re)starts: forget what was given so far. */
  begin(): void;
  /** Entries first .. first+count-1 have these values (valueSize bytes each, from offset 0). */
  take(values: Buffer, first: number, count: number): void;
}

const BATCH = 8192;

export class MapReader {
  private keys: Buffer;
  /** Every value of a read, when no sink takes them (allocated on first use). */
  private all: Buffer | undefined;
  /** One batch of values, for a sink. */
  private readonly chunk: Buffer;
  private readonly inBatch = Buffer.alloc(8);
  private readonly outBatch = Buffer.alloc(8);
  method: ReadMethod;

  constructor(
    private readonly fd: number,
    private readonly keySize: number,
    /** Bytes per entry as the syscall returns them (all CPUs' slots for per-CPU maps). */
    private readonly valueSize: number,
    private readonly maxEntries: number,
    method: ReadMethod = 'batch',
  ) {
    this.keys = Buffer.alloc(0);
    this.chunk = Buffer.alloc(valueSize * BATCH);
    this.method = method;
  }

  /** Every entry; the values go to `sink` batch by batch when one is given. */
  read(sink?: ValueSink): MapEntries {
    // Uninitialised: only the entries read are ever looked at. The slack is for churn: a read
    // walks the buckets while the kernel evicts and inserts, so it can meet more entries than the
    // map holds at any one moment.
    this.keys = Buffer.allocUnsafeSlow(this.keySize * (this.maxEntries + BATCH));
    const to: ValueSink = sink ?? this.collector();
    if (this.method === 'batch') {
      try {
        to.begin();
        return this.entries(sink, this.readBatch(to));
      } catch (err) {
        // Kernels without batch ops for this map type answer EINVAL or ENOTSUPP (524).
        if (!(err instanceof BpfError) || ![22, 95, 524].includes(err.errno)) throw err;
        this.method = 'iterate';
      }
    }
    to.begin();
    return this.entries(sink, this.readIterate(to));
  }

  private entries(sink: ValueSink | undefined, count: number): MapEntries {
    return { keys: this.keys, values: sink ? Buffer.alloc(0) : (this.all as Buffer), count };
  }

  /** A sink that keeps every value, in one buffer reused from read to read (grown when a read meets more). */
  private collector(): ValueSink {
    return {
      begin: () => {
        this.all ??= Buffer.alloc(this.valueSize * this.maxEntries);
      },
      take: (values, first, count) => {
        const end = (first + count) * this.valueSize;
        let all = this.all as Buffer;
        if (end > all.length) {
          const bigger = Buffer.alloc(Math.max(end, all.length * 2));
          all.copy(bigger);
          all = this.all = bigger;
        }
        values.copy(all, first * this.valueSize, 0, count * this.valueSize);
      },
    };
  }

  /**
   * Batches of BATCH entries until the kernel says done. Each call asks for a full batch, never
   * for the room left: the kernel returns whole buckets and answers ENOSPC when the first bucket is
   * bigger than the count asked for, and a churning LRU map met more entries than maxEntries while
   * the read went on (CI saw it at 1M flows through a 65,536-entry map). So the key buffer grows
   * instead, and a read never drops the flows of the buckets it has not reached: a flow missing
   * from one read would come back in the next as new, its whole count a false spike.
   */
  private readBatch(sink: ValueSink): number {
    let n = 0;
    let first = true;
    for (;;) {
      if ((n + BATCH) * this.keySize > this.keys.length) this.growKeys(n);
      const { count, done } = mapLookupBatch(
        this.fd,
        first ? null : this.inBatch,
        this.outBatch,
        this.keys.subarray(n * this.keySize),
        this.chunk,
        BATCH,
      );
      sink.take(this.chunk, n, count);
      n += count;
      if (done) break;
      this.outBatch.copy(this.inBatch);
      first = false;
    }
    return n;
  }

  private growKeys(n: number): void {
    const bigger = Buffer.allocUnsafeSlow(this.keys.length * 2);
    this.keys.copy(bigger, 0, 0, n * this.keySize);
    this.keys = bigger;
  }

  private readIterate(sink: ValueSink): number {
    let n = 0;
    let prev: Buffer | null = null;
    // Bounded: get_next_key starts again from the first key when its cursor was evicted meanwhile,
    // so on a churning map an iteration could go round forever (the collector drops keys met twice).
    while ((n + 1) * this.keySize <= this.keys.length) {
      const key = this.keys.subarray(n * this.keySize, (n + 1) * this.keySize);
      if (!mapGetNextKey(this.fd, prev, key)) break;
      // An entry deleted between the two calls is skipped; the next key still follows it.
      if (mapLookupElem(this.fd, key, this.chunk.subarray(0, this.valueSize))) {
        sink.take(this.chunk, n, 1);
        prev = key;
        n++;
      } else {
        prev = Buffer.from(key);
      }
    }
    return n;
  }
}
