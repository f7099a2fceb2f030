/** Driving a real terminal: a command in a detached tmux session, read with capture-pane. */
import { spawnSync } from 'node:child_process';
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
  kill(): void;
}

/** Run a shell command line in a new tmux session of the given size. */
export function openTerminal(name: string, command: string, width = 120, height = 30): Terminal {
  // Without CI in the environment: Ink (is-in-ci) draws only the last frame when CI is set.
  sh('tmux', ['new-session', '-d', '-s', name, '-x', String(width), '-y', String(height), `env -u CI ${command}`]);
  const screen = () => sh('tmux', ['capture-pane', '-p', '-t', name]);
  return {
    screen,
    keys: (...keys) => void sh('tmux', ['send-keys', '-t', name, ...keys]),
    async waitFor(pred, what, ms = 15_000) {
      const end = Date.now() + wait(ms);
      for (;;) {
        const s = screen();
        if (pred(s)) return s;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; screen:\n${s}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    cursorVisible: () => sh('tmux', ['display-message', '-p', '-t', name, '#{cursor_flag}']).trim() === '1',
    kill: () => void sh('tmux', ['kill-session', '-t', name], { allowFail: true }),
  };
}
