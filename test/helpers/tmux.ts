/** Driving a real terminal: a command in a detached tmux session, read with capture-pane. */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { wait } from './kernel.js';
import { IN_CI, kernelTest, sh } from './netns.js';

export const HAS_TMUX = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;

/** Like kernelTest(), and skips without tmux (except under CI=true, where that is a failure). */
export function tmuxTest(): { skip?: string } {
  const kernel = kernelTest();
  if (kernel.skip) return kernel;
  if (!HAS_TMUX && !IN_CI) return { skip: 'needs tmux: apt-get install tmux' };
  return {};
}

export interface Terminal {
  screen(): string;
  keys(...keys: string[]): void;
  /** Resolve with the screen once pred holds, or fail after ms with the screen in the message. */
  waitFor(pred: (screen: string) => boolean, what: string, ms?: number): Promise<string>;
  /** The cursor is shown (a TUI that exited gave the terminal back). */
  cursorVisible(): boolean;
  /** tmux's display-message of this session in `format` (e.g. '#{alternate_on}'). */
  display(format: string): string;
  kill(): void;
}

/**
 * Run a shell command line in a new tmux session of the given size, on a tmux server of its own
 * (socket `-L name`): a session of an earlier test ending its server while this one starts on it
 * cannot take this one down with it.
 */
export function openTerminal(name: string, command: string, width = 120, height = 30): Terminal {
  const tmux = (args: readonly string[], opts?: { allowFail?: boolean }) => sh('tmux', ['-L', name, ...args], opts);
  // Without CI in the environment: Ink (is-in-ci) draws only the last frame when CI is set.
  tmux(['new-session', '-d', '-s', name, '-x', String(width), '-y', String(height), `env -u CI ${command}`]);
  const socket = tmux(['display-message', '-p', '-t', name, '#{socket_path}']).trim();
  const screen = () => tmux(['capture-pane', '-p', '-t', name]);
  return {
    screen,
    keys: (...keys) => void tmux(['send-keys', '-t', name, ...keys]),
    async waitFor(pred, what, ms = 15_000) {
      const end = Date.now() + wait(ms);
      for (;;) {
        const s = screen();
        if (pred(s)) return s;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; screen:\n${s}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    cursorVisible: () => tmux(['display-message', '-p', '-t', name, '#{cursor_flag}']).trim() === '1',
    display: (format) => tmux(['display-message', '-p', '-t', name, format]),
    kill: () => {
      tmux(['kill-server'], { allowFail: true });
      if (socket) rmSync(socket, { force: true });
    },
  };
}
