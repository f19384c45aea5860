// The tasks a runtime holds, by namespace and ID (containerd's runtime.NSMap): shared by the
// v2 manager and the v1 runtime.
import { alreadyExists } from '@containerd-ts/errdefs';

export class TaskTable<E extends { readonly task: { readonly id: string } }> {
  private readonly byNamespace = new Map<string, Map<string, E>>();

  get(ns: string, id: string): E | undefined {
    return this.byNamespace.get(ns)?.get(id);
  }

  /** Adds `entry` under its task's ID; an ID already held is `task already exists`. */
  add(ns: string, entry: E): void {
    let byId = this.byNamespace.get(ns);
    if (!byId) {
      byId = new Map();
      this.byNamespace.set(ns, byId);
    }
    if (byId.has(entry.task.id)) throw alreadyExists(`${entry.task.id}: task already exists`);
    byId.set(entry.task.id, entry);
  }

  /** Removes `id` if it is still `entry` (a task created again since keeps its place). */
  remove(ns: string, id: string, entry: E): void {
    const byId = this.byNamespace.get(ns);
    if (byId?.get(id) === entry) {
      byId.delete(id);
      if (byId.size === 0) this.byNamespace.delete(ns);
    }
  }

  /** The entries of `ns`, or of every namespace when `ns` is undefined. */
  list(ns?: string): E[] {
    if (ns !== undefined) return [...(this.byNamespace.get(ns)?.values() ?? [])];
    return [...this.byNamespace.values()].flatMap((m) => [...m.values()]);
  }

  get size(): number {
    let n = 0;
    for (const m of this.byNamespace.values()) n += m.size;
    return n;
  }

  clear(): void {
    this.byNamespace.clear();
  }
}
