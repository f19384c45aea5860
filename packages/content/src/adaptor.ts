// Filter adaptors for content: which fields of an Info or a Status a filter such as
// `labels."k"==v` or `ref~=foo` can test (digest and labels; ref for ingests).
import { type Adaptor, objectAdaptor } from '@containerd-ts/filters';
import type { Info, Status } from './types.js';

/** Fields of a blob's Info for `walk` filters: `digest`, `labels.<key>`. Size is not filterable, as in containerd. */
export const adaptInfo = (info: Pick<Info, 'digest' | 'labels'>): Adaptor =>
  objectAdaptor({ digest: info.digest }, { maps: { labels: info.labels }, emptyIsAbsent: false });

/** Fields of an ingest's Status for `listStatuses` filters: `ref`. */
export const adaptStatus = (status: Pick<Status, 'ref'>): Adaptor =>
  objectAdaptor({ ref: status.ref }, { emptyIsAbsent: false });
