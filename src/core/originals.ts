import type { ObjectCreated } from '../events/object-created.js';
import type { ObjectStore, StoredObject, VersionOptions } from '../ports.js';
import { PreconditionFailedError } from './errors.js';

/**
 * The bytes of the write the event is about, never simply the latest: its version when the
 * bucket is versioned, else the object only while it still has the event's ETag. `replaced`
 * when it has changed since (412): a newer event for the key follows.
 */
export async function readNamedVersion(
  event: Pick<ObjectCreated, 'key' | 'etag' | 'versionId'>,
  originals: ObjectStore,
  maxBytes: number,
): Promise<StoredObject | 'replaced' | undefined> {
  try {
    return await originals.get(event.key, { maxBytes, ...namedVersion(event) });
  } catch (error) {
    if (error instanceof PreconditionFailedError) return 'replaced';
    throw error;
  }
}

/** The version an event names: its VersionId (versioned bucket), else its ETag as If-Match. */
export function namedVersion(event: Pick<ObjectCreated, 'etag' | 'versionId'>): VersionOptions {
  if (event.versionId) return { versionId: event.versionId };
  return event.etag ? { ifMatch: event.etag } : {};
}
