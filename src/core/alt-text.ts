import type { ObjectCreated } from '../events/object-created.js';
import type { ObjectStore } from '../ports.js';
import { putJson } from './store-json.js';

/**
 * The alt-text use case. Providers (Bedrock, OpenAI-compatible) come with their own step; until
 * one is configured the record says so plainly, `"status": "not-configured"`: not a failure,
 * and never invented text. The record is `K.json` in the alt-text store.
 */
export interface AltTextDeps {
  altText: ObjectStore;
  provider: 'off';
}

export interface AltTextRecord {
  key: string;
  status: 'not-configured';
  sourceEtag?: string;
  sequencer?: string;
}

export async function describeObjectCreated(event: ObjectCreated, deps: AltTextDeps): Promise<AltTextRecord> {
  const record: AltTextRecord = {
    key: event.key,
    status: 'not-configured',
    ...(event.etag && { sourceEtag: event.etag }),
    ...(event.sequencer && { sequencer: event.sequencer }),
  };
  await putJson(deps.altText, `${event.key}.json`, record);
  return record;
}
