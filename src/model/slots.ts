/**
 * Slots: the small integer each flow keeps while it stays in the snapshots, under which the rate
 * history stores its deltas and peaks (windows.ts).
 *
 * A row of the new snapshot that matches a row of the previous one keeps that row's slot. A new
 * flow takes the oldest slot freed in an earlier sample (its old flow's deltas are all in samples
 * before this one), or a new slot at the end. The slots of the flows that left are freed with the
 * serial of this sample, so that no new flow takes them before the next sample. Each slot
 * remembers the serial of the sample its flow was born in: the deltas of the slot in earlier
 * samples were another flow's, and windows skip them. So slots, and memory, grow with the flows
 * live at once, not with every flow seen in the last 40 s.
 *
 * Functions over typed arrays: each returns new arrays and leaves those it was given as they were,
 * except matchOnce, which unmatches repeated rows in the match array it is given, and, when asked to
 * reuse (no view reads an older step any more), bornOf and rowsOfSlots, which then write the
 * previous step's per-slot arrays in place while the number of slots stays.
 */

/** Slots waiting to be reused, in the order their flows left. */
export interface FreedSlots {
  readonly slots: Int32Array;
  /** Per freed slot: the serial of the first sample its flow was gone in. */
  readonly serials: Float64Array;
}

/** What the slots carry from one sample to the next. */
export interface Slots {
  /** The slot of each row of the latest snapshot's flows. */
  readonly slotOfRow: Int32Array;
  /** Per slot: the serial of its flow's first sample (deltas in earlier samples were another flow's). */
  readonly born: Float64Array;
  /** Slots of flows that left, oldest first, and the serial of the first sample each was gone in. */
  readonly freed: FreedSlots;
}

export const NO_SLOTS: Slots = {
  slotOfRow: new Int32Array(0),
  born: new Float64Array(0),
  freed: { slots: new Int32Array(0), serials: new Float64Array(0) },
};

/** The slots after one sample, and what that sample's step needs of them. */
export interface SlotStep extends Slots {
  /** Per slot, the row of the new snapshot that holds it, or -1 (free). */
  readonly rowOfSlot: Int32Array;
  /** The slots given to new flows in this sample, in row order (their peaks start from 0). */
  readonly newSlots: Int32Array;
}

/**
 * Marks which rows of the previous snapshot stay, each matched once: a second row matching the
 * same previous row is unmatched in `old` (set to -1), so it counts as new. Two rows of one read
 * never share a flow; this keeps the slots one to one if they ever did.
 *
 * @param old      for each new row, the previous row holding its flow, or -1 (matchRows); changed in place
 * @param prevRows rows of the previous snapshot
 * @returns        per previous row, 1 when a new row holds its flow
 */
export function matchOnce(old: Int32Array, prevRows: number): Uint8Array {
  const stays = new Uint8Array(prevRows);
  for (let i = 0; i < old.length; i++) {
    const p = old[i] as number;
    if (p < 0) continue;
    if (stays[p]) old[i] = -1;
    else stays[p] = 1;
  }
  return stays;
}

/** Where each row's slot came from. */
export interface Placement {
  readonly slotOfRow: Int32Array;
  /** Slots in use or freed after this sample: the slots before it, and those added. */
  readonly size: number;
  /** How many of the oldest freed slots were reused. */
  readonly reused: number;
  readonly newSlots: Int32Array;
}

/**
 * The slot of each row: a matched row keeps its previous row's slot; an unmatched one takes the
 * oldest freed slot freed before this sample, else slot `size`, `size + 1`, ...
 *
 * @param old          for each new row, the previous row holding its flow, or -1 (each previous row once: matchOnce)
 * @param prevSlotOfRow the slot of each previous row
 * @param size         slots so far
 * @param serial       this sample's serial
 */
export function placeRows(old: Int32Array, prevSlotOfRow: Int32Array, size: number, freed: FreedSlots, serial: number): Placement {
  const rows = old.length;
  let fresh = 0;
  for (let i = 0; i < rows; i++) if ((old[i] as number) < 0) fresh++;
  const slotOfRow = new Int32Array(rows);
  const newSlots = new Int32Array(fresh);
  const freedSlots = freed.slots;
  const freedSerials = freed.serials;
  // Freed slots in order of freeing: the first one freed in this very sample ends the reuse.
  let reused = 0;
  for (let i = 0, k = 0; i < rows; i++) {
    const p = old[i] as number;
    if (p >= 0) {
      slotOfRow[i] = prevSlotOfRow[p] as number;
      continue;
    }
    let slot: number;
    if (reused < freedSlots.length && (freedSerials[reused] as number) < serial) slot = freedSlots[reused++] as number;
    else slot = size++;
    slotOfRow[i] = slot;
    newSlots[k++] = slot;
  }
  return { slotOfRow, size, reused, newSlots };
}

/**
 * The freed slots after this sample: those not reused, then the slots of the previous rows that
 * no new row holds, freed at `serial`.
 */
export function freeSlots(freed: FreedSlots, reused: number, stays: Uint8Array, prevSlotOfRow: Int32Array, serial: number): FreedSlots {
  let gone = 0;
  for (let p = 0; p < stays.length; p++) if (!stays[p]) gone++;
  const waiting = freed.slots.length - reused;
  const out: FreedSlots = { slots: new Int32Array(waiting + gone), serials: new Float64Array(waiting + gone) };
  out.slots.set(freed.slots.subarray(reused));
  out.serials.set(freed.serials.subarray(reused));
  for (let p = 0, k = waiting; p < stays.length; p++) {
    if (stays[p]) continue;
    out.slots[k] = prevSlotOfRow[p] as number;
    out.serials[k++] = serial;
  }
  return out;
}

/**
 * Per slot, the serial its flow was born in: as before for `size` slots, `serial` for the new slots
 * (in prevBorn itself when `reuse` and the slots are as many).
 */
export function bornOf(prevBorn: Float64Array, size: number, newSlots: Int32Array, serial: number, reuse = false): Float64Array {
  const born = reuse && prevBorn.length === size ? prevBorn : new Float64Array(size);
  if (born !== prevBorn) born.set(prevBorn);
  for (let k = 0; k < newSlots.length; k++) born[newSlots[k] as number] = serial;
  return born;
}

/** Per slot, the row that holds it, or -1 (in `into` when given and as long). */
export function rowsOfSlots(slotOfRow: Int32Array, size: number, into?: Int32Array): Int32Array {
  const rowOfSlot = (into?.length === size ? into : new Int32Array(size)).fill(-1);
  for (let i = 0; i < slotOfRow.length; i++) rowOfSlot[slotOfRow[i] as number] = i;
  return rowOfSlot;
}

/**
 * The slots of the next sample, numbered `serial`.
 *
 * @param prev the slots after the previous sample (slotOfRow is per row of the previous snapshot)
 * @param old   for each row of the new snapshot, the previous row holding its flow, or -1 (matchRows);
 *              a repeated match is unmatched in place (matchOnce), so that deltas taken from `old`
 *              afterwards agree with the slots
 * @param reuse the previous step's born and rowOfSlot (`prevRowOfSlot`) may be written in place: no
 *              view reads that step any more
 */
export function assignSlots(prev: Slots, old: Int32Array, serial: number, reuse = false, prevRowOfSlot?: Int32Array): SlotStep {
  const stays = matchOnce(old, prev.slotOfRow.length);
  const { slotOfRow, size, reused, newSlots } = placeRows(old, prev.slotOfRow, prev.born.length, prev.freed, serial);
  return {
    slotOfRow,
    born: bornOf(prev.born, size, newSlots, serial, reuse),
    freed: freeSlots(prev.freed, reused, stays, prev.slotOfRow, serial),
    rowOfSlot: rowsOfSlots(slotOfRow, size, reuse ? prevRowOfSlot : undefined),
    newSlots,
  };
}
