/**
 * The UI's state lives outside React: a store with a pure reducer, which the sampler, the DNS
 * resolver and the keyboard all dispatch to, and React reads with useSyncExternalStore.
 */
import { useSyncExternalStore } from 'react';

export interface Store<S, A> {
  getState(): S;
  dispatch(action: A): void;
  subscribe(listener: () => void): () => void;
}

export function createStore<S, A>(reducer: (state: S, action: A) => S, initial: S): Store<S, A> {
  let state = initial;
  const listeners = new Set<() => void>();
  return {
    getState: () => state,
    dispatch(action) {
      const next = reducer(state, action);
      if (next === state) return;
      state = next;
      for (const listener of [...listeners]) listener();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export function useStore<S>(store: Store<S, never>): S {
  return useSyncExternalStore(store.subscribe, store.getState);
}
