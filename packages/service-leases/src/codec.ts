// The leases service definition with a direct encoder for List responses: a list writes
// each lease into the response bytes as it is read (see `@containerd-ts/api/wire`), with
// the bytes the generated encoder would produce.
import { type Lease as ApiLease, LeasesService, type ListResponse } from '@containerd-ts/api/services/leases';
import { EncodedMessage, WireWriter, acceptEncoded } from '@containerd-ts/api/wire';
import type { Lease } from './leases.js';

/** Writes leases one by one into a ListResponse (`repeated Lease leases = 1`; Lease: id 1, created_at 2, labels 3). */
export class ListLeasesEncoder {
  private readonly w = new WireWriter();

  add(lease: Lease | ApiLease): void {
    const w = this.w;
    const at = w.begin(1);
    if (lease.id !== '') w.string(1, lease.id);
    w.timestamp(2, lease.createdAt);
    w.stringMap(3, lease.labels);
    w.end(at);
  }

  finish(): EncodedMessage<ListResponse> {
    return new EncodedMessage(this.w.finish());
  }
}

const encodeList = (msg: ListResponse): Buffer => {
  const list = new ListLeasesEncoder();
  for (const lease of msg.leases) list.add(lease);
  return list.finish().bytes;
};

/** containerd.services.leases.v1.Leases as the daemon serves it. */
export const leasesServiceDefinition = {
  ...LeasesService,
  list: { ...LeasesService.list, responseSerialize: acceptEncoded(encodeList) },
} as const;
