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
      // Typing fast, pasting, or tmux send-keys can deliver text and Enter in one chunk, which Ink
      // reports as plain text: replay it piece by piece so that Enter still applies the filter.
      const pieces = input.length > 1 && input.includes('\r') ? input.split(/(\r)/).filter(Boolean) : [input];
      for (const piece of pieces) {
        const action = piece === '\r' && pieces.length > 1 ? keyAction('', { ...key, return: true }) : keyAction(piece, key);
        if (action) store.dispatch(action);
      }
    },
    { isActive: isRawModeSupported },
  );
  return <Screen state={state} theme={theme} />;
}
