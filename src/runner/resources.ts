/**
 * The values a run keeps in memory between jobs (`JobResources`, cache/job.ts): a model state
 * loaded and merged once for all the jobs that use it, its inference engine's sessions, the
 * tokenizer. The runner owns them, not the stages: each job gets a lease on the pool, released
 * when the job ends, and the pool is disposed when the run ends, so nothing outlives a run and a
 * worker process executing one job builds its own.
 *
 * A value is freed when no running job holds it and it is not worth keeping any more: values of a
 * slot replace each other (opening a new model state frees the previous one once the jobs using it
 * have ended: jobs run state by state, and a ViT-B/16 state is 600 MB), values without a slot stay
 * until the run ends. Jobs running at once never lose a value they hold.
 */
import type { JobResources } from "../cache/job.ts";

interface Entry {
  value: Promise<unknown>;
  close(value: unknown): void | Promise<void>;
  slot: string | undefined;
  /** Running jobs that asked for it. */
  holders: number;
  /** Replaced by a newer value of its slot: freed when its last holder ends. */
  replaced: boolean;
}

/** One job's view of the pool; `release()` when the job ends. */
export interface ResourceLease extends JobResources {
  release(): Promise<void>;
}

export class ResourcePool {
  #entries = new Map<string, Entry>();
  #disposed = false;

  /** Values currently kept, by key (for tests and logs). */
  get keys(): string[] {
    return [...this.#entries.keys()];
  }

  /** A lease for one job: what it uses is held until `release()`. */
  lease(): ResourceLease {
    const held = new Map<string, Entry>();
    return {
      use: async <T>(
        key: string,
        open: () => Promise<T>,
        options: { close(value: T): void | Promise<void>; slot?: string },
      ): Promise<T> => {
        if (this.#disposed) throw new Error(`resource ${key} asked for after the run ended`);
        const entry = this.#entries.get(key) ?? this.#open(key, open, options);
        if (held.get(key) !== entry) {
          held.set(key, entry);
          entry.holders++;
        }
        return await entry.value as T;
      },
      release: async () => {
        const entries = [...held];
        held.clear();
        for (const [key, entry] of entries) {
          entry.holders--;
          if (entry.replaced && entry.holders === 0) await this.#free(key, entry);
        }
      },
    };
  }

  #open<T>(
    key: string,
    open: () => Promise<T>,
    options: { close(value: T): void | Promise<void>; slot?: string },
  ): Entry {
    // The slot's idle values are freed before the new one opens (two states never sit in
    // memory side by side unless jobs running at once hold both).
    const freed = options.slot === undefined ? Promise.resolve() : this.#replace(options.slot);
    const entry: Entry = {
      value: freed.then(open),
      close: options.close as Entry["close"],
      slot: options.slot,
      holders: 0,
      replaced: false,
    };
    // A value that failed to open is forgotten, so a later job tries again.
    entry.value.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    this.#entries.set(key, entry);
    return entry;
  }

  /** Marks the values of `slot` replaced and frees those no job holds. */
  async #replace(slot: string): Promise<void> {
    const idle: Entry[] = [];
    for (const [key, entry] of this.#entries) {
      if (entry.slot !== slot) continue;
      entry.replaced = true;
      if (entry.holders === 0) {
        this.#entries.delete(key); // at once: no job can take it while it is being freed
        idle.push(entry);
      }
    }
    for (const entry of idle) await this.#close(entry);
  }

  async #free(key: string, entry: Entry): Promise<void> {
    if (this.#entries.get(key) === entry) this.#entries.delete(key);
    await this.#close(entry);
  }

  async #close(entry: Entry): Promise<void> {
    let value: unknown;
    try {
      value = await entry.value;
    } catch {
      return; // never opened: nothing to free
    }
    await entry.close(value);
  }

  /** Frees every value (the run ended); later requests fail. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    const entries = [...this.#entries];
    const errors: unknown[] = [];
    for (const [key, entry] of entries) {
      await this.#free(key, entry).catch((error) => errors.push(error));
    }
    if (errors.length > 0) throw errors[0];
  }
}
