import { compareSequencers } from '../events/object-created.js';

/**
 * What a delete leaves where an original's outputs were (`K/manifest.json` in the thumbnails
 * store, `K.json` in the alt-text store): the delete's place in the key's order, and when, never
 * anything of the image. A create event older than it (by S3 sequencer) is stale and writes
 * nothing; one proven newer (a new upload under the same key) replaces it. A create that cannot
 * be ordered against it (no sequencer on either side: local keys, written once) is stale too: a
 * deleted image never comes back by accident. Tagged, so that a bucket lifecycle rule on the tag
 * expires it (the Terraform module's `tombstone_expiration_days`).
 */
export interface Tombstone {
  schemaVersion: 1;
  deleted: true;
  /** The delete's S3 sequencer, when its event had one. */
  sequencer?: string;
  deletedAt: string;
}

/** The object tags a tombstone is written with; the lifecycle rule that expires tombstones filters on them. */
export const TOMBSTONE_TAGS: Readonly<Record<string, string>> = Object.freeze({ thumbnailer: 'tombstone' });

export function tombstone(sequencer: string | undefined, now: Date): Tombstone {
  return { schemaVersion: 1, deleted: true, ...(sequencer && { sequencer }), deletedAt: now.toISOString() };
}

export function isTombstone(value: unknown): value is Tombstone {
  return typeof value === 'object' && value !== null && (value as { deleted?: unknown }).deleted === true;
}

/** Whether a write with `sequencer` came after the delete `stone` records: only then may it replace it. */
export function writtenAfter(stone: Tombstone, sequencer: string | undefined): boolean {
  return Boolean(sequencer && stone.sequencer && compareSequencers(sequencer, stone.sequencer) > 0);
}
