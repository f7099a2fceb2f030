/**
 * Reads every entry of a hash map into two flat buffers (keys, values), in batches of
 * bpf_map_lookup_batch, falling back to get_next_key + lookup where the kernel refuses batches
 * (before 5.6), as BCC's map_helpers.c does. The values buffer is reused every read (the collector
 * decodes it at once); each read's keys get a buffer of their own, which the snapshot keeps.
 */
import { BpfError } from '../ffi/errors.js';
import { mapGetNextKey, mapLookupBatch, mapLookupElem } from '../ffi/libbpf.js';

export type ReadMethod = 'batch' | 'iterate';

export interface MapEntries {
  readonly keys: Buffer;
  readonly values: Buffer;
  readonly count: number;
}

const BATCH = 8192;

export class MapReader {
  private keys: Buffer;
  private readonly values: Buffer;
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
    this.values = Buffer.alloc(valueSize * maxEntries);
    this.method = method;
  }

  read(): MapEntries {
    // Uninitialised: only the entries read are ever looked at.
    this.keys = Buffer.allocUnsafeSlow(this.keySize * this.maxEntries);
    if (this.method === 'batch') {
      try {
        return this.readBatch();
      } catch (err) {
        // Kernels without batch ops for this map type answer EINVAL or ENOTSUPP (524).
        if (!(err instanceof BpfError) || ![22, 95, 524].includes(err.errno)) throw err;
        this.method = 'iterate';
      }
    }
    return this.readIterate();
  }

  private readBatch(): MapEntries {
    let n = 0;
    let first = true;
    for (;;) {
      const room = this.maxEntries - n;
      if (room <= 0) break;
      const want = Math.min(BATCH, room);
      const { count, done } = mapLookupBatch(
        this.fd,
        first ? null : this.inBatch,
        this.outBatch,
        this.keys.subarray(n * this.keySize),
        this.values.subarray(n * this.valueSize),
        want,
      );
      n += count;
      if (done) break;
      this.outBatch.copy(this.inBatch);
      first = false;
    }
    return { keys: this.keys, values: this.values, count: n };
  }

  private readIterate(): MapEntries {
    let n = 0;
    let prev: Buffer | null = null;
    while (n < this.maxEntries) {
      const key = this.keys.subarray(n * this.keySize, (n + 1) * this.keySize);
      if (!mapGetNextKey(this.fd, prev, key)) break;
      // An entry deleted between the two calls is skipped; the next key still follows it.
      if (mapLookupElem(this.fd, key, this.values.subarray(n * this.valueSize, (n + 1) * this.valueSize))) {
        prev = key;
        n++;
      } else {
        prev = Buffer.from(key);
      }
    }
    return { keys: this.keys, values: this.values, count: n };
  }
}
