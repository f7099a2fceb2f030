/**
 * The flow filter: a subset of tcpdump's pcap-filter language, parsed by hand (recursive descent)
 * so every mistake gets a one-line message with its column instead of an exception.
 *
 *   expr      := and ( ('or' | '||') and )*
 *   and       := unary ( ('and' | '&&') unary )*
 *   unary     := ('not' | '!') unary | '(' expr ')' | primitive
 *   primitive := tcp | udp | icmp | icmp6 | icmpv6 | sctp | udplite | proto NAME|N
 *              | ip | ip6 | [src|dst] host ADDR | src|dst ADDR | [src|dst] net ADDR/LEN
 *              | [src|dst] port N | [src|dst] portrange N-M
 *              | inbound | ingress | outbound | egress | iface NAME
 *              | rtt CMP DURATION | retrans [CMP N] | drops [CMP N]
 *              | pid N | proc NAME | cgroup TEXT | user NAME|UID
 *   CMP       := > | >= | < | <= | =      DURATION := N (ms) | Nus | Nms | Ns
 *
 * The health terms read what --no-tcp-stats leaves out: rtt is the socket's smoothed RTT (the last
 * of the interval), retrans and drops count since the flow entered the map; 'retrans' alone is
 * 'retrans > 0'. A flow with nothing known (no RTT, the hook refused) matches no comparison.
 *
 * The owner terms read the local process behind a flow (what --no-processes leaves out): pid and
 * proc (its comm) exactly, cgroup a part of its cgroup path or its container's short name, user a
 * name or a uid. A flow without an owner matches none of them.
 *
 * Primitives are joined explicitly ('tcp port 80' is not juxtaposition: as in pcap, a port protocol
 * may qualify a following port/portrange/src/dst primitive, and ip/ip6 a following
 * proto/host/net/src/dst one; both mean "qualifier and primitive"). Keywords are case-insensitive.
 */
import { parseAddress, parsePrefix } from './address.js';
import type { Comparison, Filter, HealthMetric, ParseResult, Side } from './filter.js';
import { hasPorts, protoNumber } from './format.js';
import type { Direction } from './types.js';

/** Deep enough for any filter a person types, shallow enough that recursion cannot overflow. */
const MAX_DEPTH = 100;

const SIMPLE_PROTOS: ReadonlyMap<string, readonly number[]> = new Map([
  ['tcp', [6]],
  ['udp', [17]],
  ['icmp', [1, 58]],
  ['icmp6', [58]],
  ['icmpv6', [58]],
  ['sctp', [132]],
  ['udplite', [136]],
]);

const DIRECTIONS: ReadonlyMap<string, Direction> = new Map([
  ['inbound', 'ingress'],
  ['ingress', 'ingress'],
  ['outbound', 'egress'],
  ['egress', 'egress'],
]);

/** What may follow a qualifying keyword to form one pcap-style primitive. */
const PORT_QUALIFIED = new Set(['port', 'portrange', 'src', 'dst']);
const FAMILY_QUALIFIED = new Set(['proto', 'host', 'net', 'src', 'dst']);

const KEYWORDS = new Set([
  ...SIMPLE_PROTOS.keys(),
  ...DIRECTIONS.keys(),
  ...['ip', 'ip6', 'proto', 'host', 'net', 'port', 'portrange', 'src', 'dst', 'iface'],
  ...['rtt', 'retrans', 'drops'],
  ...['pid', 'proc', 'cgroup', 'user'],
]);

const COMPARISONS = new Set<string>(['>', '>=', '<', '<=', '=', '==']);

/** '10ms', '850us', '1.5s', '10' (ms) in microseconds. */
function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s)?$/i.exec(text);
  if (!m) return undefined;
  const unit = (m[2] ?? 'ms').toLowerCase();
  return Number(m[1]) * (unit === 'us' ? 1 : unit === 'ms' ? 1000 : 1e6);
}

/** Never taken as a keyword's argument, so 'iface and' is a missing name, not an interface. */
const OPERATORS = new Set(['and', 'or', 'not', '&&', '||', '!', '(', ')']);

interface Token {
  /** As typed; `word` is the lower-case form used for keywords. */
  readonly text: string;
  readonly word: string;
  /** 1-based column of the first character. */
  readonly col: number;
}

class FilterSyntaxError extends Error {}

/** One line: what was expected, where, what was there instead, and a hint when there is one. */
function fail(message: string, col: number, found?: Token, hint?: string): never {
  const foundText = found ? `, found '${found.text}'` : '';
  throw new FilterSyntaxError(`${message} at column ${col}${foundText}${hint ? ` (${hint})` : ''}`);
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    let len = 1;
    if (ch === '<' || ch === '>' || ch === '=') {
      len = text[i + 1] === '=' ? 2 : 1;
    } else if (ch === '&' || ch === '|') {
      if (text[i + 1] !== ch) fail(`unexpected '${ch}'`, i + 1, undefined, `use '${ch}${ch}' or '${ch === '&' ? 'and' : 'or'}'`);
      len = 2;
    } else if (ch !== '(' && ch !== ')' && ch !== '!') {
      while (i + len < text.length && !/[\s()!&|<>=]/.test(text[i + len] as string)) len++;
    }
    const part = text.slice(i, i + len);
    tokens.push({ text: part, word: part.toLowerCase(), col: i + 1 });
    i += len;
  }
  return tokens;
}

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly endCol: number,
  ) {}

  parse(): Filter {
    if (this.tokens.length === 0) return { kind: 'all' };
    const filter = this.orExpr(undefined);
    const extra = this.peek();
    if (extra) {
      if (extra.text === ')') fail(`unexpected ')' without a matching '('`, extra.col);
      fail(`expected 'and', 'or' or the end of the filter`, extra.col, extra);
    }
    return filter;
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private next(): Token | undefined {
    return this.tokens[this.pos++];
  }

  /** Column to blame when a token is missing: the next token's, or just past the end. */
  private col(): number {
    return this.peek()?.col ?? this.endCol;
  }

  private orExpr(after: Token | undefined): Filter {
    const terms = [this.andExpr(after)];
    for (let op = this.peek(); op && (op.word === 'or' || op.word === '||'); op = this.peek()) {
      this.pos++;
      terms.push(this.andExpr(op));
    }
    return join('or', terms);
  }

  private andExpr(after: Token | undefined): Filter {
    const terms = [this.unary(after)];
    for (let op = this.peek(); op && (op.word === 'and' || op.word === '&&'); op = this.peek()) {
      this.pos++;
      terms.push(this.unary(op));
    }
    return join('and', terms);
  }

  /** `after` is the operator or keyword before this operand, named in the error when it is missing. */
  private unary(after: Token | undefined): Filter {
    const tok = this.peek();
    const where = after ? ` after '${after.text}'` : '';
    if (!tok) fail(`expected a filter primitive${where}`, this.endCol);
    if (tok.word === 'not' || tok.word === '!' || tok.text === '(') {
      if (++this.depth > MAX_DEPTH) fail(`filter nested more than ${MAX_DEPTH} levels deep`, tok.col);
      this.pos++;
      let filter: Filter;
      if (tok.text === '(') {
        filter = this.orExpr(tok);
        const close = this.next();
        if (!close) fail(`expected ')' to close the '(' of column ${tok.col}`, this.endCol);
        if (close.text !== ')') fail(`expected 'and', 'or' or ')'`, close.col, close);
      } else {
        const term = this.unary(tok);
        filter = term.kind === 'not' ? term.term : { kind: 'not', term };
      }
      this.depth--;
      return filter;
    }
    if (!KEYWORDS.has(tok.word)) {
      const hint = parseAddress(tok.text) ? `did you mean 'host ${tok.text}'?` : undefined;
      fail(`expected a filter primitive${where}`, tok.col, tok, hint);
    }
    return this.primitive();
  }

  private primitive(side: Side = 'either'): Filter {
    const tok = this.next() as Token;
    const kw = tok.word;
    const protos = SIMPLE_PROTOS.get(kw);
    if (protos) {
      const filter: Filter = { kind: 'proto', protos, label: kw };
      return protos.every(hasPorts) ? this.qualified(filter, PORT_QUALIFIED) : filter;
    }
    const dir = DIRECTIONS.get(kw);
    if (dir) return { kind: 'dir', dir };
    switch (kw) {
      case 'ip':
      case 'ip6':
        return this.qualified({ kind: 'family', family: kw === 'ip' ? 4 : 6 }, FAMILY_QUALIFIED);
      case 'proto': {
        const what = 'a protocol name or number (0-255)';
        const arg = this.argument(tok, what);
        const proto = protoNumber(arg.text);
        if (proto === undefined) fail(`expected ${what} after '${tok.text}'`, arg.col, arg);
        return { kind: 'proto', protos: [proto], label: `proto ${arg.text}` };
      }
      case 'src':
      case 'dst':
        return this.sided(tok, kw);
      case 'host': {
        const what = 'an IPv4 or IPv6 address';
        const arg = this.argument(tok, what);
        const addr = parseAddress(arg.text);
        if (!addr) {
          const hint = parsePrefix(arg.text) ? `use 'net' for a prefix` : undefined;
          fail(`expected ${what} after '${tok.text}'`, arg.col, arg, hint);
        }
        return { kind: 'host', side, prefix: { ...addr, len: addr.bytes.length * 8 } };
      }
      case 'net': {
        const what = 'a prefix like 10.0.0.0/8 or 2001:db8::/32';
        const arg = this.argument(tok, what);
        const prefix = parsePrefix(arg.text);
        if (!prefix) fail(`expected ${what} after '${tok.text}'`, arg.col, arg);
        return { kind: 'net', side, prefix };
      }
      case 'port': {
        const what = 'a port number (0-65535)';
        const arg = this.argument(tok, what);
        const port = parsePort(arg.text);
        if (port === undefined) fail(`expected ${what} after '${tok.text}'`, arg.col, arg);
        return { kind: 'port', side, lo: port, hi: port };
      }
      case 'portrange': {
        const what = 'a port range like 1024-65535';
        const arg = this.argument(tok, what);
        const [loText, hiText, ...rest] = arg.text.split('-');
        const a = parsePort(loText ?? '');
        const b = parsePort(hiText ?? '');
        if (a === undefined || b === undefined || rest.length > 0) fail(`expected ${what} after '${tok.text}'`, arg.col, arg);
        // pcap accepts the ends in either order; so do we.
        return { kind: 'port', side, lo: Math.min(a, b), hi: Math.max(a, b) };
      }
      case 'iface': {
        const arg = this.argument(tok, 'an interface name');
        return { kind: 'iface', name: arg.text };
      }
      case 'rtt':
      case 'retrans':
      case 'drops':
        return this.health(tok, kw);
      case 'pid': {
        const arg = this.argument(tok, 'a process id');
        if (!/^\d{1,10}$/.test(arg.text)) fail(`expected a process id after '${tok.text}'`, arg.col, arg);
        return { kind: 'owner', what: 'pid', value: String(Number(arg.text)) };
      }
      case 'proc':
        return { kind: 'owner', what: 'proc', value: this.argument(tok, 'a process name (its comm)').text };
      case 'cgroup':
        return { kind: 'owner', what: 'cgroup', value: this.argument(tok, 'a part of a cgroup path or a container name').text };
      case 'user':
        return { kind: 'owner', what: 'user', value: this.argument(tok, 'a user name or uid').text };
    }
    // Unreachable: unary() only calls primitive() on a keyword handled above.
    return fail(`expected a filter primitive`, tok.col, tok);
  }

  /** rtt CMP DURATION; retrans or drops, alone (> 0) or CMP N. */
  private health(keyword: Token, what: HealthMetric): Filter {
    const op = this.peek();
    if (!op || !COMPARISONS.has(op.word)) {
      if (what === 'rtt') fail(`expected a comparison (>, >=, <, <=, =) after 'rtt'`, this.col(), op, `like 'rtt > 10ms'`);
      return { kind: 'health', what, op: '>', value: 0 };
    }
    this.pos++;
    const cmp = (op.word === '==' ? '=' : op.word) as Comparison;
    const what2 = what === 'rtt' ? 'a duration like 10ms, 500us or 1s' : 'a count';
    const arg = this.argument(op, what2);
    const value = what === 'rtt' ? parseDuration(arg.text) : /^\d+$/.test(arg.text) ? Number(arg.text) : undefined;
    if (value === undefined) fail(`expected ${what2} after '${keyword.text} ${op.text}'`, arg.col, arg);
    return { kind: 'health', what, op: cmp, value };
  }

  /** The word after a keyword; operators and parentheses are never an argument. */
  private argument(keyword: Token, what: string): Token {
    const arg = this.peek();
    if (!arg || OPERATORS.has(arg.word)) fail(`expected ${what} after '${keyword.text}'`, this.col(), arg);
    this.pos++;
    return arg;
  }

  /** After 'src'/'dst': a host/net/port/portrange primitive on that side, or a bare address/prefix. */
  private sided(keyword: Token, side: 'src' | 'dst'): Filter {
    const arg = this.peek();
    if (arg && ['host', 'net', 'port', 'portrange'].includes(arg.word)) return this.primitive(side);
    const what = `an address, prefix, 'host', 'net', 'port' or 'portrange'`;
    if (!arg) fail(`expected ${what} after '${keyword.text}'`, this.endCol);
    const addr = parseAddress(arg.text);
    const prefix = addr ? { ...addr, len: addr.bytes.length * 8 } : parsePrefix(arg.text);
    if (!prefix) fail(`expected ${what} after '${keyword.text}'`, arg.col, arg);
    this.pos++;
    return { kind: addr ? 'host' : 'net', side, prefix };
  }

  /** pcap's 'tcp port 80' / 'ip6 host ::1': the qualifier and the primitive that follows it. */
  private qualified(qualifier: Filter, allowed: ReadonlySet<string>): Filter {
    const following = this.peek();
    if (!following || !allowed.has(following.word)) return qualifier;
    return join('and', [qualifier, this.primitive()]);
  }
}

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/** An n-ary node, flattening nested nodes of the same kind so long chains stay shallow. */
function join(kind: 'and' | 'or', terms: Filter[]): Filter {
  if (terms.length === 1) return terms[0] as Filter;
  return { kind, terms: terms.flatMap((t) => (t.kind === kind ? t.terms : [t])) };
}

/** Parses a filter; the empty (or blank) text matches everything. Never throws. */
export function parseFilter(text: string): ParseResult {
  try {
    return { ok: true, filter: new Parser(tokenize(text), text.length + 1).parse() };
  } catch (err) {
    if (err instanceof FilterSyntaxError) return { ok: false, error: err.message };
    return { ok: false, error: `invalid filter: ${err instanceof Error ? err.message : String(err)}` };
  }
}
