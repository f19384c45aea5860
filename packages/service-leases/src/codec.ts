// The leases service definition with a direct encoder for List responses: a list writes
// each lease into the response bytes as it is read (see `@containerd-ts/api/wire`), with
// the bytes the generated encoder would produce.
import { type Lease as ApiLease, LeasesService, type ListResponse } from '@containerd-ts/api/services/leases';
import { RepeatedWriter, type WireWriter, encodeRepeated } from '@containerd-ts/api/wire';
import { writeLeaseFields } from '@containerd-ts/metadata-level';
import type { Lease } from './leases.js';

/** containerd.services.leases.v1.Lease (id 1, created_at 2, labels 3). */
function writeLease(w: WireWriter, lease: Lease | ApiLease): void {
  if (lease.id !== '') w.string(1, lease.id);
  writeLeaseFields(w, lease);
}

/**
 * A lease from its ID and its stored record (the wire form of the other fields, one
 * Latin-1 character per byte: `LeaseManager.eachStored`), written without decoding it.
 */
export function writeStoredLease(w: WireWriter, id: string, stored: string): void {
  if (id !== '') w.string(1, id);
  w.latin1(stored);
}

/** A ListResponse (`repeated Lease leases = 1`) written lease by lease. */
export const listLeasesWriter = () => new RepeatedWriter<Lease | ApiLease, ListResponse>(1, writeLease);

/** A ListResponse written from stored records (`add(id, stored)`). */
export const listStoredLeasesWriter = () => new RepeatedWriter<string, ListResponse, string>(1, writeStoredLease);

/** containerd.services.leases.v1.Leases as the daemon serves it. */
export const leasesServiceDefinition = {
  ...LeasesService,
  list: encodeRepeated(LeasesService.list, 1, (m: ListResponse) => m.leases, writeLease),
} as const;
