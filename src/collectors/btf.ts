/**
 * A minimal reader of the kernel's BTF (/sys/kernel/btf/vmlinux): the names of an enum's values
 * (enum skb_drop_reason, whose values change from one kernel to the next) and the arguments of a
 * BTF tracepoint (tcp_retransmit_skb gained `err` in 6.14). Users' machines have no bpftool, so the
 * format is read here: a header, then the types one after another (each a 12-byte head and data
 * that depends on its kind), then the strings. Only what these two questions need is kept.
 */
import { readFileSync } from 'node:fs';

export const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';

const MAGIC = 0xeb9f;
const KIND = { INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, DECL_TAG: 17, ENUM64: 19 } as const;

/** Bytes after a type's 12-byte head, by kind. */
function extra(kind: number, vlen: number): number {
  switch (kind) {
    case KIND.INT:
    case KIND.VAR:
    case KIND.DECL_TAG:
      return 4;
    case KIND.ARRAY:
      return 12;
    case KIND.STRUCT:
    case KIND.UNION:
    case KIND.DATASEC:
    case KIND.ENUM64:
      return 12 * vlen;
    case KIND.ENUM:
    case KIND.FUNC_PROTO:
      return 8 * vlen;
    default:
      return 0; /* PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG */
  }
}

export class BtfFormatError extends Error {
  override readonly name = 'BtfFormatError';
}

export class Btf {
  /** Per type id (from 1): kind, vlen, name offset, size or type, and where its data starts. */
  private readonly kind: Uint8Array;
  private readonly vlen: Uint16Array;
  private readonly nameOff: Uint32Array;
  private readonly sizeOrType: Uint32Array;
  private readonly data: Uint32Array;
  private readonly types: number;
  private readonly strOff: number;
  private readonly strLen: number;

  constructor(private readonly buf: Buffer) {
    if (buf.length < 24 || buf.readUInt16LE(0) !== MAGIC) throw new BtfFormatError('not BTF (or not little-endian BTF)');
    const hdrLen = buf.readUInt32LE(4);
    const typeOff = hdrLen + buf.readUInt32LE(8);
    const typeEnd = typeOff + buf.readUInt32LE(12);
    this.strOff = hdrLen + buf.readUInt32LE(16);
    this.strLen = buf.readUInt32LE(20);
    if (typeEnd > buf.length || this.strOff + this.strLen > buf.length) throw new BtfFormatError('BTF sections run past the end');
    // Count first, then fill typed arrays: vmlinux has ~150k types.
    let n = 0;
    for (let at = typeOff; at < typeEnd; n++) {
      const info = buf.readUInt32LE(at + 4);
      at += 12 + extra((info >>> 24) & 0x1f, info & 0xffff);
    }
    this.types = n;
    this.kind = new Uint8Array(n + 1);
    this.vlen = new Uint16Array(n + 1);
    this.nameOff = new Uint32Array(n + 1);
    this.sizeOrType = new Uint32Array(n + 1);
    this.data = new Uint32Array(n + 1);
    for (let id = 1, at = typeOff; id <= n; id++) {
      const info = buf.readUInt32LE(at + 4);
      this.nameOff[id] = buf.readUInt32LE(at);
      this.kind[id] = (info >>> 24) & 0x1f;
      this.vlen[id] = info & 0xffff;
      this.sizeOrType[id] = buf.readUInt32LE(at + 8);
      this.data[id] = at + 12;
      at += 12 + extra(this.kind[id] as number, this.vlen[id] as number);
    }
  }

  static fromFile(path = VMLINUX_BTF): Btf {
    return new Btf(readFileSync(path));
  }

  private str(off: number): string {
    const start = this.strOff + off;
    const end = this.buf.indexOf(0, start);
    return this.buf.toString('latin1', start, end < 0 ? this.strOff + this.strLen : end);
  }

  /** Ids of the types of this kind and name. */
  private find(kind: number, name: string): number[] {
    const ids: number[] = [];
    for (let id = 1; id <= this.types; id++) if (this.kind[id] === kind && this.str(this.nameOff[id] as number) === name) ids.push(id);
    return ids;
  }

  /** An enum's values by number (the first name where two share a value), or undefined when there is no such enum. */
  enumValues(name: string): Map<number, string> | undefined {
    const id = [...this.find(KIND.ENUM, name), ...this.find(KIND.ENUM64, name)][0];
    if (id === undefined) return undefined;
    const out = new Map<number, string>();
    const wide = this.kind[id] === KIND.ENUM64;
    for (let i = 0, at = this.data[id] as number; i < (this.vlen[id] as number); i++, at += wide ? 12 : 8) {
      const value = wide ? this.buf.readUInt32LE(at + 4) + this.buf.readUInt32LE(at + 8) * 2 ** 32 : this.buf.readInt32LE(at + 4);
      if (!out.has(value)) out.set(value, this.str(this.buf.readUInt32LE(at)));
    }
    return out;
  }

  /**
   * The arguments of a BTF tracepoint (its typedef btf_trace_NAME, a pointer to a function whose
   * first parameter is the tracepoint's private data), or undefined when the kernel has none.
   */
  tracepointArgs(name: string): number | undefined {
    const id = this.find(KIND.TYPEDEF, `btf_trace_${name}`)[0];
    if (id === undefined) return undefined;
    const ptr = this.sizeOrType[id] as number;
    if (this.kind[ptr] !== KIND.PTR) return undefined;
    const proto = this.sizeOrType[ptr] as number;
    if (this.kind[proto] !== KIND.FUNC_PROTO) return undefined;
    return (this.vlen[proto] as number) - 1;
  }
}

/** Drop reasons by value, named as tc-top shows them: SKB_DROP_REASON_NETFILTER_DROP is NETFILTER_DROP. */
export function dropReasonNames(btf: Btf): Map<number, string> {
  const values = btf.enumValues('skb_drop_reason') ?? new Map<number, string>();
  return new Map([...values].map(([v, name]) => [v, name.replace(/^SKB_DROP_REASON_/, '').replace(/^SKB_/, '')]));
}
