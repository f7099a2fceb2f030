/** The top component: reads the store, turns key presses into actions, draws the Screen. */
import { useInput, useStdin } from 'ink';
import { keyAction } from './keymap.js';
import { Screen } from './Screen.js';
import type { UiStore } from './state.js';
import { useStore } from './store.js';
import type { Theme } from './theme.js';

export function App({ store, theme }: { readonly store: UiStore; readonly theme: Theme }) {
  const state = useStore(store);
  const { isRawModeSupported } = useStdin();
  useInput(
    (input, key) => {
      // Typing fast, pasting, or tmux send-keys can deliver several keys in one chunk, which Ink
      // reports as one text: replay it key by key, so that `r>` is two commands and Enter still
      // applies a typed filter.
      const pieces = input.length > 1 && !key.ctrl && !key.meta ? [...input] : [input];
      for (const piece of pieces) {
        const action = piece === '\r' && pieces.length > 1 ? keyAction('', { ...key, return: true }) : keyAction(piece, key);
        if (action) store.dispatch(action);
      }
    },
    { isActive: isRawModeSupported },
  );
  return <Screen state={state} theme={theme} />;
}
