// The local introspection service: every loaded plugin with its status, as containerd
// reports it, and the server's UUID persisted under the plugin's root.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toGrpcStatus } from '@containerd-ts/errdefs';
import { objectAdaptor, parseAll } from '@containerd-ts/filters';
import type { PluginRecord } from '@containerd-ts/plugin';

export interface PluginInfo {
  type: string;
  id: string;
  requires: string[];
  platforms: Array<{ os: string; architecture: string; variant: string }>;
  exports: Record<string, string>;
  capabilities: string[];
  initErr: { code: number; message: string; details: never[] } | undefined;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function platformOf(p: string): PluginInfo['platforms'][number] {
  const [os = '', architecture = '', variant = ''] = p.split('/');
  return { os, architecture, variant };
}

export class IntrospectionService {
  private uuid: Promise<string> | undefined;

  constructor(
    private readonly root: string,
    private readonly records: () => readonly PluginRecord[],
  ) {}

  /** Loaded plugins in init order, filtered with containerd's syntax on `type` and `id`. */
  plugins(filters: readonly string[] = []): PluginInfo[] {
    const filter = parseAll(filters);
    return this.records()
      .filter((r) => filter.match(objectAdaptor({ type: r.type, id: r.id })))
      .map((r) => ({
        type: r.type,
        id: r.id,
        requires: [...r.requires],
        platforms: r.meta.platforms.map(platformOf),
        // Read at each request: plugins may update their exports after init.
        exports: { ...r.meta.exports },
        capabilities: [...r.meta.capabilities],
        initErr: r.error ? { ...statusOf(r.error), details: [] } : undefined,
      }));
  }

  /** The server UUID: read from `<root>/uuid`, generated and persisted on first use. */
  serverUUID(): Promise<string> {
    this.uuid ??= this.loadUUID().catch((err: unknown) => {
      this.uuid = undefined;
      throw err;
    });
    return this.uuid;
  }

  private async loadUUID(): Promise<string> {
    const path = join(this.root, 'uuid');
    const existing = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (existing !== undefined) {
      if (!uuidPattern.test(existing)) throw new Error(`invalid server UUID in ${path}`);
      return existing;
    }
    const uuid = randomUUID();
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const tmp = `${path}.tmp-${process.pid}`;
    await writeFile(tmp, uuid, { mode: 0o644, flush: true });
    await rename(tmp, path);
    return uuid;
  }
}

function statusOf(err: Error): { code: number; message: string } {
  const { code, details } = toGrpcStatus(err);
  return { code, message: details };
}
