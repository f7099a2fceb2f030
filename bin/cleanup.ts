/**
 * `tc-top --cleanup [-i IFACE]...`: remove tc-top programs left by killed runs, and the clsact
 * qdiscs tc-top recorded as its own once they are empty; nothing else.
 */
import { readdirSync } from 'node:fs';
import { sweepRecords } from '../src/collectors/clsact-record.js';
import { resolveInterface } from '../src/collectors/interfaces.js';
import { describeLeftover, findLeftovers, heldPrograms, removeLeftover, removeLeftoverClsact } from '../src/collectors/leftovers.js';

/** Prints one line per removed program or qdisc (or that there was none); returns the exit code. */
export function runCleanup(ifnames: readonly string[], write: (line: string) => void): number {
  const names = ifnames.length > 0 ? ifnames : readdirSync('/sys/class/net').sort();
  const held = heldPrograms();
  let failed = 0;
  let removed = 0;
  sweepRecords();
  for (const name of names) {
    const iface = resolveInterface(name);
    for (const l of findLeftovers(iface, held)) {
      try {
        removeLeftover(l);
        removed++;
        write(`removed ${describeLeftover(l)} from ${l.ifname}`);
      } catch (err) {
        failed++;
        write(`could not remove ${describeLeftover(l)} from ${l.ifname}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    // After the filters: a clsact tc-top created goes once nothing is left on it.
    try {
      const outcome = removeLeftoverClsact(iface);
      if (outcome === 'removed') {
        removed++;
        write(`removed the clsact qdisc tc-top added to ${iface.name}`);
      } else if (outcome === 'in use') {
        write(`kept the clsact qdisc tc-top added to ${iface.name}: filters use it`);
      }
    } catch (err) {
      failed++;
      write(`could not remove the clsact qdisc tc-top added to ${iface.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (removed === 0 && failed === 0) write(`no tc-top programs left over on ${names.join(', ')}`);
  return failed > 0 ? 1 : 0;
}
