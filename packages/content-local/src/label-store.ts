// Where the local store keeps mutable blob labels, when it keeps them at all. In the
// daemon it has none (the metadata layer owns labels, as in containerd); a store used
// on its own can be given one.

export interface LabelStore {
  /** All labels of a digest ({} when none). */
  get(digest: string): Promise<Record<string, string>>;
  /** Replaces all labels of a digest. */
  set(digest: string, labels: Record<string, string>): Promise<void>;
  /** Sets the given labels; an empty value removes the label. Returns the result. */
  update(digest: string, labels: Record<string, string>): Promise<Record<string, string>>;
  /** Forgets a digest's labels (its blob was deleted). */
  delete(digest: string): Promise<void>;
}

/** Labels held in memory for the life of the process. */
export class MemoryLabelStore implements LabelStore {
  readonly #labels = new Map<string, Record<string, string>>();

  async get(digest: string): Promise<Record<string, string>> {
    return { ...this.#labels.get(digest) };
  }

  async set(digest: string, labels: Record<string, string>): Promise<void> {
    this.#labels.set(digest, { ...labels });
  }

  async update(digest: string, labels: Record<string, string>): Promise<Record<string, string>> {
    const current = { ...this.#labels.get(digest) };
    for (const [key, value] of Object.entries(labels)) {
      if (value === '') delete current[key];
      else current[key] = value;
    }
    this.#labels.set(digest, current);
    return { ...current };
  }

  async delete(digest: string): Promise<void> {
    this.#labels.delete(digest);
  }
}
