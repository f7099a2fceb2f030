/** Reading the system's text files (/proc, /etc): a file that is not there, or not readable, reads as empty. */
import { readFileSync } from 'node:fs';

export function readTextOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
