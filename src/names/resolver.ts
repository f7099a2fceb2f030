/**
 * Reverse DNS in the background: each address is asked once (a few at a time), answers are
 * cached by the store, failures simply leave the address shown. Nothing here blocks a frame.
 */
import { Resolver } from 'node:dns/promises';

/** The part of node:dns's Resolver used here (tests pass a fake). */
export type ReverseDns = Pick<Resolver, 'reverse' | 'cancel'>;

const PARALLEL = 4;

export class NameResolver {
  /** Asked already: answered, failed, queued or in flight. */
  private readonly asked = new Set<string>();
  private readonly queue: string[] = [];
  private inFlight = 0;
  private closed = false;

  constructor(
    private readonly onName: (addr: string, name: string) => void,
    private readonly dns: ReverseDns = new Resolver({ timeout: 2000, tries: 2 }),
  ) {}

  /** Queue the addresses not asked yet. */
  want(addrs: Iterable<string>): void {
    for (const addr of addrs) {
      if (this.closed || this.asked.has(addr)) continue;
      this.asked.add(addr);
      this.queue.push(addr);
    }
    this.pump();
  }

  /** Drop the queue and cancel the queries in flight, so that none keeps the process alive. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.dns.cancel();
  }

  private pump(): void {
    while (this.inFlight < PARALLEL && this.queue.length > 0) {
      const addr = this.queue.shift() as string;
      this.inFlight++;
      this.dns
        .reverse(addr)
        .then(
          (names) => {
            const name = names[0];
            if (name && !this.closed) this.onName(addr, name);
          },
          () => {},
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
