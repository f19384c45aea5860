// The leases service definition with a direct encoder for List responses: a list writes
// each lease into the response bytes as it is read (see `@containerd-ts/api/wire`), with
// the bytes the generated encoder would produce.
import { type Lease as ApiLease, LeasesService, type ListResponse } from '@containerd-ts/api/services/leases';
import { RepeatedWriter, type WireWriter, encodeRepeated } from '@containerd-ts/api/wire';
import { writeLeaseFields, writeStoredRecord } from '@containerd-ts/metadata-level';
import type { Lease } from './leases.js';

/** containerd.services.leases.v1.Lease (id 1, created_at 2, labels 3). */
function writeLease(w: WireWriter, lease: Lease | ApiLease): void {
  if (lease.id !== '') w.string(1, lease.id);
  writeLeaseFields(w, lease);
}

/** A ListResponse written from stored records (`add(id, stored)`: `LeaseManager.eachStored`). */
export const listStoredLeasesWriter = () => new RepeatedWriter<string, ListResponse, string>(1, writeStoredRecord);

/** containerd.services.leases.v1.Leases as the daemon serves it. */
export const leasesServiceDefinition = {
  ...LeasesService,
  list: encodeRepeated(LeasesService.list, 1, (m: ListResponse) => m.leases, writeLease),
} as const;
