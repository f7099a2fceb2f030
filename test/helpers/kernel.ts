/**
 * What the kernel under test should do, from the release it reports (the table in
 * src/collectors/kernel-features.ts), and how much slower it runs: the test:kernels guests are
 * emulated (TCG) and set TC_TOP_TEST_SLOW, by which the helpers' waits are multiplied.
 */
import { release } from 'node:os';
import { releaseHas } from '../../src/collectors/kernel-features.js';

export const KERNEL = release();
/** tcx links (6.6+): `--tc-mode auto` attaches them; before, it falls back to clsact filters. */
export const HAS_TCX = releaseHas('tcx');
/** The TC mode `--tc-mode auto` picks on this kernel, as tc-top names it. */
export const TC_AUTO_MODE: 'tcx' | 'clsact' = HAS_TCX ? 'tcx' : 'clsact';
/** How many times slower than this machine's own kernel the tests run (1 outside the guests). */
export const SLOW = Math.max(1, Number(process.env.TC_TOP_TEST_SLOW) || 1);
/** A wait in ms, stretched by SLOW. */
export const wait = (ms: number): number => ms * SLOW;
