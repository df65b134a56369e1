/**
 * A small cache of asynchronous lookups by key, for reads of immutable data (stored batches never change, but for
 * the tentative ones a view change removes: the owner clears the cache then):
 * concurrent lookups of one key share one read, the `capacity` most recently used results are kept, and a
 * lookup that fails or finds nothing is not kept (the next one reads again).
 */
export class LookupCache<K, V> {
  private readonly capacity: number;
  private readonly lookup: (key: K) => Promise<V | undefined>;
  private readonly entries = new Map<K, Promise<V | undefined>>();

  constructor(capacity: number, lookup: (key: K) => Promise<V | undefined>) {
    this.capacity = capacity;
    this.lookup = lookup;
  }

  /** The lookup of `key` if one is held (done or in flight), without starting one or changing the eviction order. */
  peek(key: K): Promise<V | undefined> | undefined {
    return this.entries.get(key);
  }

  get(key: K): Promise<V | undefined> {
    const held = this.entries.get(key);
    if (held) {
      // Most recently used last, so that the oldest is evicted first.
      this.entries.delete(key);
      this.entries.set(key, held);
      return held;
    }
    const read = this.lookup(key);
    this.entries.set(key, read);
    const forget = () => { if (this.entries.get(key) === read) this.entries.delete(key); };
    read.then((value) => { if (value === undefined) forget(); }, forget);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return read;
  }

  /** Forgets every result (the data changed: a view change removed stored batches). */
  clear(): void {
    this.entries.clear();
  }
}
