// What the page knows of the library: the images listed so far and the failures, kept fresh by
// polling while anything is in flight. Views subscribe and render from here; the actions
// (retry, dismiss, delete, alt text) go through here so that every view sees their result.
import { announce } from './announce.js';
import { api, apiEvents, authProblemShown, keyPath } from './api.js';

const POLL_MS = 1000;
const MAX_BACKOFF_MS = 10_000;
const PAGE_SIZE = 50;
export const IN_FLIGHT = new Set(['queued', 'processing']);

export const state = {
  /** @type {any[]} records in display order, newest first */
  images: [],
  /** @type {string | null} */
  nextCursor: null,
  galleryLoaded: false,
  /** @type {any[]} the dead letters */
  failures: [],
  /** failure id -> { id, key, queue, failure } while its retry is on its way */
  retrying: new Map(),
};

let olderPagesLoaded = false;
/** key -> status seen last time, for announcements */
const seenStatus = new Map();
/** key -> alt-text status seen last time: a failed run is a new failure to list */
const seenAltStatus = new Map();
/** Keys deleted from this page: a list asked for before the delete must not bring them back. */
const deletedKeys = new Set();
/** Counts the edits saved from this page; key -> the count when that image's text was saved. */
let editsSaved = 0;
const savedAtEdit = new Map();
let retriesPending = false;

const listeners = new Set();

/** `listener({ images, failures })` after every change of either. */
export function subscribe(listener) {
  listeners.add(listener);
}

function changed(what) {
  for (const listener of listeners) listener(what);
}

export function findImage(key) {
  return state.images.find((record) => record.key === key);
}

/** A record the server sent back (an edit, a regeneration) replaces the one listed. */
export function replaceRecord(updated) {
  state.images = state.images.map((record) => (record.key === updated.key ? updated : record));
  changed({ images: true });
}

/** An upload the server accepted: shown at once, before the next list includes it. */
export function addQueuedImage(item, file) {
  if (!item?.key || findImage(item.key)) return;
  state.images.unshift({
    key: item.key,
    name: item.name ?? file.name,
    bytes: file.size,
    uploadedAt: new Date().toISOString(),
    status: item.status ?? 'queued',
    source: null,
    renditions: [],
    placeholder: null,
    altText: { status: 'queued' },
    failure: null,
    addedAt: Date.now(),
  });
  seenStatus.set(item.key, item.status ?? 'queued');
  seenAltStatus.set(item.key, 'queued');
  changed({ images: true });
}

/**
 * The first page replaces what it covers. Uploads accepted moments ago that it does not list yet
 * stay in front for a few seconds; older pages loaded with "Load older images" stay after it.
 */
function mergeFirstPage(page) {
  const listed = page.images.filter((record) => !deletedKeys.has(record.key));
  const keys = new Set(listed.map((record) => record.key));
  const now = Date.now();
  const justUploaded = state.images.filter((r) => !keys.has(r.key) && r.addedAt && now - r.addedAt < 5000);
  const older = olderPagesLoaded ? state.images.filter((r) => !keys.has(r.key) && !r.addedAt) : [];
  state.images = [...justUploaded, ...listed, ...older];
  if (!olderPagesLoaded) state.nextCursor = page.nextCursor;
}

export async function refreshImages() {
  const editsBefore = editsSaved;
  const page = await api(`/api/images?limit=${PAGE_SIZE}`);
  // A list asked for before an edit was saved holds the text from before it: keep the edit.
  page.images = page.images.map((record) =>
    (savedAtEdit.get(record.key) ?? 0) > editsBefore ? (findImage(record.key) ?? record) : record,
  );
  const changes = [];
  const altFailures = [];
  for (const record of page.images) {
    const before = seenStatus.get(record.key);
    if (state.galleryLoaded && before !== undefined && before !== record.status) changes.push(record);
    seenStatus.set(record.key, record.status);
    const altStatus = record.altText?.status;
    const altBefore = seenAltStatus.get(record.key);
    if (altStatus === 'failed' && altBefore !== undefined && altBefore !== 'failed') altFailures.push(record);
    seenAltStatus.set(record.key, altStatus);
  }
  mergeFirstPage(page);
  state.galleryLoaded = true;
  changed({ images: true });
  announceChanges(changes);
  for (const record of altFailures) {
    const code = record.altText.error?.code ? ` (${record.altText.error.code})` : '';
    announce(`${record.name}: alt text failed${code}.`);
  }
  return [...changes, ...altFailures];
}

function announceChanges(changes) {
  const done = changes.filter((r) => r.status === 'done');
  const failed = changes.filter((r) => r.status === 'failed');
  const processing = changes.filter((r) => r.status === 'processing');
  if (done.length === 1) announce(`${done[0].name}: thumbnails ready.`);
  else if (done.length > 1) announce(`${done.length} images ready: ${done.map((r) => r.name).join(', ')}.`);
  for (const record of failed) {
    const code = record.failure?.code ? ` (${record.failure.code})` : '';
    announce(`${record.name}: processing failed${code}.`);
  }
  if (processing.length > 0 && done.length === 0 && failed.length === 0) {
    announce(`Processing ${processing.map((r) => r.name).join(', ')}.`);
  }
}

export async function loadOlder() {
  if (!state.nextCursor) return;
  const page = await api(`/api/images?limit=${PAGE_SIZE}&cursor=${encodeURIComponent(state.nextCursor)}`);
  for (const record of page.images) {
    if (deletedKeys.has(record.key)) continue;
    seenStatus.set(record.key, record.status);
    seenAltStatus.set(record.key, record.altText?.status);
    if (!findImage(record.key)) state.images.push(record);
  }
  olderPagesLoaded = true;
  state.nextCursor = page.nextCursor;
  changed({ images: true });
  announce(`Loaded ${page.images.length} older images.`);
  if (state.images.some((r) => IN_FLIGHT.has(r.status))) schedulePoll();
}

/** One image by key: for a detail view linked to an image not listed (yet). */
export async function fetchImage(key) {
  const record = await api(keyPath('/api/images', key));
  if (findImage(key)) replaceRecord(record);
  return record;
}

export async function refreshFailures() {
  const body = await api('/api/failures');
  state.failures = body.failures ?? [];
  changed({ failures: true });
}

/** Forgets retries whose image has settled again (done, or failed and listed anew). */
function settleRetries() {
  for (const [id, retry] of state.retrying) {
    const record = findImage(retry.key);
    const settled =
      retry.queue === 'alt-text' ? record?.altText?.status !== 'queued' : !IN_FLIGHT.has(record?.status);
    if (!record || settled) state.retrying.delete(id);
  }
}

/** Puts a dead letter back in its queue (POST .../retry); throws an ApiError when refused. */
export async function retryFailure(failure) {
  const label = failure.name ?? failure.key;
  let result;
  try {
    result = await api(`/api/failures/${encodeURIComponent(failure.id)}/retry`, { method: 'POST' });
  } catch (error) {
    announce(`Could not retry ${label}: ${error.message}.`);
    if (error.status === 404) await refreshFailures().catch(() => {});
    throw error;
  }
  const known = state.failures.find((f) => f.id === failure.id) ?? failure;
  const queue = known.queue ?? 'thumbnail';
  state.retrying.set(failure.id, { id: failure.id, key: failure.key, queue, failure: known });
  state.failures = state.failures.filter((f) => f.id !== failure.id);
  retriesPending = true;
  announce(`Retry of ${label} ${result?.status === 'queued' ? 'queued' : 'requested'}.`);
  // The image is back in its queue: show it so at once (a new record: views compare), then follow it.
  const record = findImage(failure.key);
  if (record && queue === 'thumbnail') {
    replaceRecord({ ...record, status: 'queued', failure: null });
    seenStatus.set(record.key, 'queued');
  } else if (record) {
    replaceRecord({ ...record, altText: { ...record.altText, status: 'queued' } });
    seenAltStatus.set(record.key, 'queued');
  }
  changed({ failures: true });
  stopPolling();
  schedulePoll(POLL_MS);
}

/** Removes a dead letter and its record for good (DELETE /api/failures/<id>); the image stays. */
export async function dismissFailure(failure) {
  const label = failure.name ?? failure.key;
  try {
    await api(`/api/failures/${encodeURIComponent(failure.id)}`, { method: 'DELETE' });
  } catch (error) {
    announce(`Could not dismiss the failure of ${label}: ${error.message}.`);
    await refreshFailures().catch(() => {});
    throw error;
  }
  state.failures = state.failures.filter((f) => f.id !== failure.id);
  announce(`Failure of ${label} dismissed.`);
  changed({ failures: true });
  // The image's record changes with it (no failure to retry any more).
  if (findImage(failure.key)) fetchImage(failure.key).catch(() => {});
}

/** DELETE /api/images/<key>: the image and everything made of it. */
export async function deleteImage(key) {
  await api(keyPath('/api/images', key), { method: 'DELETE' });
  deletedKeys.add(key);
  seenStatus.delete(key);
  seenAltStatus.delete(key);
  state.images = state.images.filter((record) => record.key !== key);
  changed({ images: true });
  if (state.failures.some((f) => f.key === key)) refreshFailures().catch(() => {});
}

/** PUT .../alt-text: a person's alt text, kept over later runs of the model. */
export async function saveAltText(key, text) {
  const updated = await api(`${keyPath('/api/images', key)}/alt-text`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(text),
  });
  savedAtEdit.set(updated.key, ++editsSaved);
  replaceRecord(updated);
  return updated;
}

/** POST .../alt-text/regenerate: the model asked again, over a person's text. */
export async function regenerateAltText(key) {
  const updated = await api(`${keyPath('/api/images', key)}/alt-text/regenerate`, { method: 'POST' });
  replaceRecord(updated);
  pollSoon();
  return updated;
}

// Polling: every second while anything is queued or processing, or a retry is on its way.

let pollTimer = 0;
let pollUntil = 0;
let pollBackoff = POLL_MS;

function inFlight() {
  return state.images.some((r) => IN_FLIGHT.has(r.status) || r.altText?.status === 'queued');
}

export function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = 0;
}

function schedulePoll(delay = POLL_MS) {
  if (pollTimer || authProblemShown()) return;
  pollTimer = setTimeout(poll, delay);
}

/** After an upload or a request for new work: poll now and for a few seconds. */
export function pollSoon() {
  pollUntil = Date.now() + 3 * POLL_MS;
  stopPolling();
  schedulePoll(250);
}

async function poll() {
  pollTimer = 0;
  if (document.hidden) return; // picked up again on visibilitychange
  try {
    const changes = await refreshImages();
    const touchesFailures = changes.some(
      (r) =>
        r.status === 'failed' ||
        r.altText?.status === 'failed' ||
        state.failures.some((f) => f.key === r.key),
    );
    if (retriesPending || touchesFailures) {
      settleRetries();
      await refreshFailures();
      retriesPending = state.retrying.size > 0;
    }
    pollBackoff = POLL_MS;
  } catch (error) {
    if (error.status === 401) return;
    pollBackoff = Math.min(MAX_BACKOFF_MS, pollBackoff * 2);
  }
  if (inFlight() || retriesPending || Date.now() < pollUntil || pollBackoff > POLL_MS)
    schedulePoll(pollBackoff);
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && !pollTimer && (inFlight() || retriesPending)) schedulePoll(0);
});
apiEvents.addEventListener('unauthorized', stopPolling);

/** The first load (and the one after a token is given): images and failures. */
export async function refreshAll() {
  let problem;
  try {
    await Promise.all([refreshImages(), refreshFailures()]);
  } catch (error) {
    if (error.status === 401) return undefined;
    problem = error;
  }
  if (inFlight() || !state.galleryLoaded) schedulePoll(state.galleryLoaded ? POLL_MS : MAX_BACKOFF_MS / 2);
  return problem;
}
