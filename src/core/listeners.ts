/** Adds `listener` to `listeners`; returns the function that removes it again (every `onX(listener)` returns one). */
export function subscribe<T>(listeners: T[], listener: T): () => void {
  listeners.push(listener);
  return () => {
    const i = listeners.indexOf(listener);
    if (i >= 0) listeners.splice(i, 1);
  };
}
