// Thumbnailer's page: upload, gallery with live status, failures with retry.
// Plain ES module, no framework, no build step; the server also serves thumbhash at vendor/.
// Paths are relative, so that a copy hosted under any path works (npm run build:page).
import { thumbHashToDataURL } from './vendor/thumbhash.js';

const POLL_MS = 1000;
const MAX_BACKOFF_MS = 10_000;
const PAGE_SIZE = 50;
const UPLOAD_CONCURRENCY = 3;
const TOKEN_KEY = 'thumbnailer.token';
const IN_FLIGHT = new Set(['queued', 'processing']);
const STATUS_ICONS = { queued: '…', processing: '↻', done: '✓', failed: '✕' };
const BROWSER_FORMATS = new Set(['webp', 'jpeg', 'png', 'avif']);

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** createElement with attributes (`class`, `dataset`, properties, attributes) and children. */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') element.className = value;
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name in element && typeof value !== 'string') element[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null && child !== false) element.append(child);
  }
  return element;
}

// ---------------------------------------------------------------------------------------------
// Token: `?token=` is kept in sessionStorage and sent as a Bearer header (and on <img> URLs).

let memoryToken = null;

function readToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? memoryToken;
  } catch {
    return memoryToken;
  }
}

function saveToken(value) {
  memoryToken = value || null;
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage refused (privacy mode): the in-memory copy lasts for this page.
  }
}

function takeTokenFromUrl() {
  const url = new URL(location.href);
  if (!url.searchParams.has('token')) return;
  saveToken(url.searchParams.get('token'));
  // Out of the address bar, history and bookmarks; this tab's sessionStorage keeps it.
  url.searchParams.delete('token');
  history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
}

function authHeaders() {
  const token = readToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** A same-origin URL for <img>/<a>, with ?token= when there is one (they cannot send headers). */
function withToken(url) {
  const token = readToken();
  if (!token) return url;
  const parsed = new URL(url, location.origin);
  parsed.searchParams.set('token', token);
  return `${parsed.pathname}${parsed.search}`;
}

// ---------------------------------------------------------------------------------------------
// API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The server's `{"error":{"code","message"}}`, or a stand-in when the body is not that. */
function errorFrom(status, text) {
  try {
    const body = JSON.parse(text);
    if (body?.error?.code)
      return new ApiError(status, body.error.code, body.error.message ?? body.error.code);
  } catch {
    // not JSON
  }
  return new ApiError(status, `HTTP_${status}`, `the server answered ${status}`);
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, {
      ...options,
      headers: { Accept: 'application/json', ...authHeaders(), ...(options.headers ?? {}) },
    });
  } catch {
    showOffline(true);
    throw new ApiError(0, 'NETWORK', 'cannot reach the Thumbnailer server');
  }
  showOffline(false);
  const text = await response.text();
  if (response.status === 401) {
    const error = errorFrom(401, text);
    showAuthProblem(error.message);
    throw error;
  }
  if (!response.ok) throw errorFrom(response.status, text);
  hideAuthProblem();
  return text ? JSON.parse(text) : null;
}

// ---------------------------------------------------------------------------------------------
// Notices and announcements

const announcer = $('announcer');
let pendingAnnouncements = [];
let announceTimer = 0;

/** Queues a message for the polite live region; messages close together are read as one. */
function announce(message) {
  pendingAnnouncements.push(message);
  clearTimeout(announceTimer);
  announceTimer = setTimeout(() => {
    const text = pendingAnnouncements.join(' ');
    pendingAnnouncements = [];
    // Clear first, so the same sentence twice is still announced.
    announcer.textContent = '';
    requestAnimationFrame(() => {
      announcer.textContent = text;
    });
  }, 400);
}

function showAuthProblem(message) {
  const section = $('auth');
  const hadToken = Boolean(readToken());
  $('auth-message').textContent = hadToken
    ? `The access token was refused (${message}). Enter the right token to continue.`
    : `This server requires an access token (${message}). Open the page as /?token=<your token>, or enter it here.`;
  if (section.hidden) {
    section.hidden = false;
    stopPolling();
  }
}

function hideAuthProblem() {
  $('auth').hidden = true;
}

function showOffline(offline) {
  const notice = $('offline');
  if (offline) notice.textContent = 'Cannot reach the Thumbnailer server. Trying again…';
  notice.hidden = !offline;
}

$('auth-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('auth-token'));
  saveToken(input.value.trim());
  input.value = '';
  hideAuthProblem();
  refreshAll();
});

// ---------------------------------------------------------------------------------------------
// Formatting

function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function timeElement(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return h('time', { datetime: iso, title: iso }, dateFormat.format(date));
}

function placeholderUrl(base64) {
  try {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return thumbHashToDataURL(bytes);
  } catch {
    return null;
  }
}

function altCaption(altText) {
  // Text there is (from a model or a person) is shown, even while a new one is pending or failed.
  if (altText?.alt) return altText.alt;
  switch (altText?.status) {
    case 'done':
      return altText.alt ? altText.alt : 'Alt text: none was generated';
    case 'not-configured':
      return 'Alt text: not configured';
    case 'queued':
      return 'Alt text: pending';
    case 'failed':
      return altText.error?.code ? `Alt text: failed (${altText.error.code})` : 'Alt text: failed';
    default:
      return 'Alt text: unknown';
  }
}

/** Who wrote the alt text: a person, or which model (and whether an earlier answer was reused). */
function altSourceText(altText) {
  if (!altText?.alt) return '';
  if (altText.status === 'queued') return 'New alt text pending';
  if (altText.status === 'failed')
    return `New alt text failed${altText.error?.code ? ` (${altText.error.code})` : ''}`;
  if (altText.edited) return 'Alt text edited by a person';
  if (altText.model)
    return `Alt text by ${altText.model}${altText.reused ? ' (reused for identical image)' : ''}`;
  return '';
}

/** The card's alt-text editor: alt (required) and description, saved with PUT .../alt-text. */
function openAltEditor(card) {
  if (card.editing) return;
  card.editing = true;
  const record = card.record;
  const id = `alt-${Math.random().toString(36).slice(2)}`;
  const altInput = h('textarea', {
    id: `${id}-alt`,
    name: 'alt',
    rows: 2,
    maxLength: 300,
    required: true,
    class: 'alt-form__input',
  });
  altInput.value = record.altText?.alt ?? '';
  const descriptionInput = h('textarea', {
    id: `${id}-description`,
    name: 'description',
    rows: 3,
    maxLength: 1000,
    class: 'alt-form__input',
  });
  descriptionInput.value = record.altText?.description ?? '';
  const problem = h('p', { class: 'alt-form__problem', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', class: 'button button--small' }, 'Save alt text');
  const cancel = h('button', { type: 'button', class: 'button button--quiet button--small' }, 'Cancel');
  const regenerate = h(
    'button',
    { type: 'button', class: 'button button--quiet button--small' },
    'Ask the model again',
  );
  const form = h(
    'form',
    { class: 'alt-form', 'aria-label': `Alt text of ${record.name}` },
    h('label', { for: altInput.id }, 'Alt text'),
    altInput,
    h('label', { for: descriptionInput.id }, 'Description (optional)'),
    descriptionInput,
    problem,
    h('div', { class: 'alt-form__buttons' }, save, cancel, regenerate),
  );
  const close = () => {
    card.editing = false;
    form.remove();
    card.edit.hidden = false;
    card.edit.focus();
  };
  cancel.addEventListener('click', close);
  regenerate.addEventListener('click', async () => {
    regenerate.disabled = true;
    try {
      const key = card.record.key.split('/').map(encodeURIComponent).join('/');
      const updated = await api(`/api/images/${key}/alt-text/regenerate`, { method: 'POST' });
      images = images.map((r) => (r.key === updated.key ? updated : r));
      updateCard(card, updated);
      announce(`New alt text for ${updated.name} requested.`);
      close();
      pollAfterUpload();
    } catch (error) {
      problem.hidden = false;
      problem.textContent = `Could not ask again: ${error.message}.`;
      regenerate.disabled = false;
    }
  });
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') close();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const alt = altInput.value.trim();
    if (!alt) {
      problem.hidden = false;
      problem.textContent = 'Alt text cannot be empty.';
      altInput.focus();
      return;
    }
    save.disabled = true;
    try {
      const path = `/api/images/${card.record.key.split('/').map(encodeURIComponent).join('/')}/alt-text`;
      const updated = await api(path, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ alt, description: descriptionInput.value.trim() }),
      });
      images = images.map((r) => (r.key === updated.key ? updated : r));
      savedAtEdit.set(updated.key, ++editsSaved);
      updateCard(card, updated);
      announce(`Alt text of ${updated.name} saved.`);
      close();
    } catch (error) {
      problem.hidden = false;
      problem.textContent = `Could not save: ${error.message}.`;
      save.disabled = false;
    }
  });
  card.edit.hidden = true;
  card.altEditor.append(form);
  altInput.focus();
}

/** The card-sized rendition: preset `thumb`, else the smallest one a browser can show. */
function pickThumb(renditions) {
  const shown = renditions.filter((r) => BROWSER_FORMATS.has(r.format));
  return (
    shown.find((r) => r.preset === 'thumb') ??
    [...shown].sort((a, b) => a.width * a.height - b.width * b.height)[0]
  );
}

/** The rendition a click opens: preset `preview`, else the largest. */
function pickPreview(renditions) {
  const shown = renditions.filter((r) => BROWSER_FORMATS.has(r.format));
  return (
    shown.find((r) => r.preset === 'preview') ??
    [...shown].sort((a, b) => b.width * b.height - a.width * a.height)[0]
  );
}

// ---------------------------------------------------------------------------------------------
// Uploads: one XMLHttpRequest per file (upload progress), a few at a time.

const fileInput = /** @type {HTMLInputElement} */ ($('file-input'));
const dropzone = $('dropzone');
const uploadList = $('uploads');
const uploadQueue = [];
let activeUploads = 0;

dropzone.addEventListener('click', () => fileInput.click());
fileInput.addEventListener('change', () => {
  if (fileInput.files?.length) addFiles([...fileInput.files]);
  fileInput.value = ''; // the same file can be chosen again
});

// Drops are taken anywhere on the page (the drop zone lights up), never opened as a page.
let dragDepth = 0;
const hasFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes('Files');
document.addEventListener('dragenter', (event) => {
  if (!hasFiles(event)) return;
  dragDepth += 1;
  dropzone.classList.add('is-dragging');
});
document.addEventListener('dragleave', (event) => {
  if (!hasFiles(event)) return;
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) dropzone.classList.remove('is-dragging');
});
document.addEventListener('dragover', (event) => {
  if (!hasFiles(event)) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = 'copy';
});
document.addEventListener('drop', (event) => {
  if (!hasFiles(event)) return;
  event.preventDefault();
  dragDepth = 0;
  dropzone.classList.remove('is-dragging');
  const files = [...(event.dataTransfer?.files ?? [])];
  if (files.length) addFiles(files);
});

$('clear-uploads').addEventListener('click', () => {
  for (const item of [...uploadList.children]) {
    if (item.dataset.state === 'done' || item.dataset.state === 'error') item.remove();
  }
  updateUploadsArea();
  dropzone.focus();
});

function updateUploadsArea() {
  const items = [...uploadList.children];
  $('uploads-area').hidden = items.length === 0;
  $('clear-uploads').hidden = !items.some((i) => i.dataset.state === 'done' || i.dataset.state === 'error');
}

function addFiles(files) {
  announce(`Uploading ${files.length} ${files.length === 1 ? 'file' : 'files'}.`);
  for (const file of files) {
    const progress = h('progress', { max: 100, value: 0, 'aria-label': `Upload progress of ${file.name}` });
    const status = h('span', { class: 'upload-item__status' }, 'Waiting…');
    const element = h(
      'li',
      { class: 'upload-item', dataset: { state: 'waiting' } },
      h(
        'span',
        { class: 'upload-item__name', title: file.name },
        file.name,
        ' ',
        h('span', { class: 'upload-item__size' }, formatBytes(file.size)),
      ),
      status,
      progress,
    );
    uploadList.prepend(element);
    uploadQueue.push({ file, element, progress, status });
  }
  updateUploadsArea();
  pumpUploads();
}

function pumpUploads() {
  while (activeUploads < UPLOAD_CONCURRENCY && uploadQueue.length > 0) {
    const item = uploadQueue.shift();
    activeUploads += 1;
    upload(item).finally(() => {
      activeUploads -= 1;
      pumpUploads();
    });
  }
}

// Where uploads go: this server's /api/images or, when the page's config.json names an upload
// endpoint (a copy of the page hosted for the AWS deployment: npm run build:page), straight to
// the originals bucket, with a presigned POST the endpoint signs for each file.

/** @type {Promise<{ uploadEndpoint?: string }>} */
const configReady = fetch('config.json', { cache: 'no-cache', headers: { Accept: 'application/json' } })
  .then((response) => (response.ok ? response.json() : {}))
  .catch(() => ({}));

const NETWORK_MESSAGE =
  'the connection failed before the upload finished (server unreachable, or the file is over its size limit)';

async function upload(item) {
  const { file, element, progress, status } = item;
  element.dataset.state = 'uploading';
  status.textContent = 'Uploading… 0%';
  try {
    const config = await configReady;
    if (config.uploadEndpoint) {
      const key = await uploadToBucket(item, config.uploadEndpoint);
      progress.value = 100;
      element.dataset.state = 'done';
      status.textContent = 'Uploaded';
      element.append(h('p', { class: 'upload-item__key' }, `Stored as ${key}`));
      announce(`Uploaded ${file.name} to the originals bucket; its thumbnails are made there.`);
      hideAuthProblem();
      updateUploadsArea();
      return;
    }
    const accepted = await uploadToServer(item);
    progress.value = 100;
    element.dataset.state = 'done';
    status.textContent = 'Uploaded';
    announce(`Uploaded ${file.name}; it is queued for thumbnails.`);
    hideAuthProblem();
    for (const entry of accepted) addQueuedImage(entry, file);
    updateUploadsArea();
    pollAfterUpload();
  } catch (thrown) {
    const error =
      thrown instanceof ApiError ? thrown : new ApiError(0, 'ERROR', String(thrown?.message ?? thrown));
    element.dataset.state = 'error';
    status.textContent = 'Upload failed';
    element.append(h('p', { class: 'upload-item__error' }, `${error.code}: ${error.message}`));
    announce(`Could not upload ${file.name}: ${error.message}.`);
    if (error.status === 401) showAuthProblem(error.message);
    updateUploadsArea();
  }
}

/** This server's API: a multipart POST; resolves with the accepted images. */
async function uploadToServer(item) {
  const form = new FormData();
  form.append('file', item.file, item.file.name);
  const answer = await postForm('/api/images', form, { Accept: 'application/json', ...authHeaders() }, item);
  if (answer.status !== 202 && answer.status !== 200 && answer.status !== 201) {
    throw errorFrom(answer.status, answer.text);
  }
  try {
    const accepted = JSON.parse(answer.text);
    return Array.isArray(accepted) ? accepted : [];
  } catch {
    return []; // accepted, but the body is not the expected list: the next poll shows it anyway
  }
}

/** Types a browser may leave empty (HEIC on most systems), from the file name. */
const TYPES_BY_EXTENSION = {
  heic: 'image/heic',
  heif: 'image/heif',
  avif: 'image/avif',
  webp: 'image/webp',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  bmp: 'image/bmp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
};

/**
 * The AWS deployment: the endpoint signs a POST for one file (the key is its choice, the size and
 * type are in the signature), then the file goes to the bucket itself. Resolves with the key.
 */
async function uploadToBucket(item, endpoint) {
  const { file, status } = item;
  status.textContent = 'Asking for an upload…';
  const contentType = file.type || TYPES_BY_EXTENSION[file.name.split('.').pop()?.toLowerCase() ?? ''] || '';
  let response;
  try {
    response = await fetch(new URL('uploads', endpoint.endsWith('/') ? endpoint : `${endpoint}/`), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...authHeaders() },
      body: JSON.stringify({ name: file.name, size: file.size, contentType }),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'cannot reach the upload endpoint');
  }
  const text = await response.text();
  if (!response.ok) throw errorFrom(response.status, text);
  const ticket = JSON.parse(text);
  const form = new FormData();
  for (const [name, value] of Object.entries(ticket.fields)) form.append(name, value);
  // Last: S3 ignores the fields after the file.
  form.append('file', file, file.name);
  status.textContent = 'Uploading… 0%';
  const answer = await postForm(ticket.url, form, {}, item);
  if (answer.status < 200 || answer.status > 299) throw bucketErrorFrom(answer.status, answer.text);
  return ticket.key;
}

/** S3's `<Error><Code>…</Code><Message>…</Message></Error>`, or a stand-in. */
function bucketErrorFrom(status, text) {
  const xml = new DOMParser().parseFromString(text || '<none/>', 'application/xml');
  const code = xml.querySelector('Error > Code')?.textContent;
  const message = xml.querySelector('Error > Message')?.textContent;
  return code
    ? new ApiError(status, code, message || code)
    : new ApiError(status, `HTTP_${status}`, `the bucket answered ${status}`);
}

/**
 * One XMLHttpRequest (fetch reports no upload progress): resolves with the answer's status and
 * text; rejects on a network failure, which is also what a browser reports when the server
 * closes the connection on an over-limit body before reading it.
 */
function postForm(url, form, headers, { progress, status }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener('progress', (event) => {
      if (!event.lengthComputable) return;
      const percent = Math.min(100, Math.round((event.loaded / event.total) * 100));
      progress.value = percent;
      status.textContent = `Uploading… ${percent}%`;
    });
    xhr.addEventListener('load', () => resolve({ status: xhr.status, text: xhr.responseText }));
    xhr.addEventListener('error', () => reject(new ApiError(0, 'NETWORK', NETWORK_MESSAGE)));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'ABORTED', 'the upload was cancelled')));
    xhr.send(form);
  });
}

// ---------------------------------------------------------------------------------------------
// Gallery: newest first, live status while anything is in flight.

const gallery = $('gallery');
/** @type {any[]} records in display order */
let images = [];
let nextCursor = null;
let olderPagesLoaded = false;
let galleryLoaded = false;
/** key -> the card's elements */
const cards = new Map();
/** key -> status seen last time, for announcements */
const seenStatus = new Map();
/** Keys deleted from this page: a list asked for before the delete must not bring them back. */
const deletedKeys = new Set();
/** Counts the edits saved from this page; key -> the count when that image's text was saved. */
let editsSaved = 0;
const savedAtEdit = new Map();

function addQueuedImage(item, file) {
  if (!item?.key || images.some((r) => r.key === item.key)) return;
  images.unshift({
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
  renderGallery();
}

/**
 * The first page replaces what it covers. Uploads accepted moments ago that it does not list yet
 * stay in front for a few seconds; older pages loaded with "Load older images" stay after it.
 */
function mergeFirstPage(page) {
  page.images = page.images.filter((r) => !deletedKeys.has(r.key));
  const keys = new Set(page.images.map((r) => r.key));
  const now = Date.now();
  const justUploaded = images.filter((r) => !keys.has(r.key) && r.addedAt && now - r.addedAt < 5000);
  const older = olderPagesLoaded ? images.filter((r) => !keys.has(r.key) && !r.addedAt) : [];
  images = [...justUploaded, ...page.images, ...older];
  if (!olderPagesLoaded) nextCursor = page.nextCursor;
}

async function refreshImages() {
  const editsBefore = editsSaved;
  const page = await api(`/api/images?limit=${PAGE_SIZE}`);
  // A list asked for before an edit was saved holds the text from before it: keep the edit.
  page.images = page.images.map((record) =>
    (savedAtEdit.get(record.key) ?? 0) > editsBefore
      ? (images.find((known) => known.key === record.key) ?? record)
      : record,
  );
  const changes = [];
  for (const record of page.images) {
    const before = seenStatus.get(record.key);
    if (galleryLoaded && before !== undefined && before !== record.status) changes.push(record);
    seenStatus.set(record.key, record.status);
  }
  mergeFirstPage(page);
  galleryLoaded = true;
  renderGallery();
  announceChanges(changes);
  return changes;
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

async function loadOlder() {
  if (!nextCursor) return;
  const button = /** @type {HTMLButtonElement} */ ($('load-more'));
  button.disabled = true;
  try {
    const page = await api(`/api/images?limit=${PAGE_SIZE}&cursor=${encodeURIComponent(nextCursor)}`);
    const known = new Set(images.map((r) => r.key));
    for (const record of page.images) {
      if (deletedKeys.has(record.key)) continue;
      seenStatus.set(record.key, record.status);
      if (!known.has(record.key)) images.push(record);
    }
    olderPagesLoaded = true;
    nextCursor = page.nextCursor;
    renderGallery();
    announce(`Loaded ${page.images.length} older images.`);
    if (images.some((r) => IN_FLIGHT.has(r.status))) schedulePoll();
  } catch (error) {
    announce(`Could not load older images: ${error.message}.`);
  } finally {
    button.disabled = false;
  }
}
$('load-more').addEventListener('click', loadOlder);

function renderGallery() {
  $('gallery-loading').hidden = galleryLoaded || images.length > 0;
  $('gallery-empty').hidden = !galleryLoaded || images.length > 0;
  const count = $('gallery-count');
  count.hidden = images.length === 0;
  count.textContent = `${images.length}${nextCursor ? '+' : ''}`;
  $('load-more').hidden = !nextCursor;

  const wanted = new Set(images.map((r) => r.key));
  for (const [key, card] of cards) {
    if (!wanted.has(key)) {
      card.item.remove();
      cards.delete(key);
    }
  }
  images.forEach((record, index) => {
    let card = cards.get(record.key);
    if (!card) {
      card = createCard(record);
      cards.set(record.key, card);
    }
    updateCard(card, record);
    // Move only what is out of place, so focus and loading images are left alone.
    if (gallery.children[index] !== card.item)
      gallery.insertBefore(card.item, gallery.children[index] ?? null);
  });
}

function createCard(record) {
  const img = h('img', {
    class: 'card__img',
    alt: record.name,
    width: 320,
    height: 320,
    decoding: 'async',
    loading: 'lazy',
    hidden: true,
  });
  img.addEventListener('load', () => img.classList.add('is-loaded'));
  img.addEventListener('error', () => {
    img.hidden = true;
    card.problem.hidden = false;
    card.problem.replaceChildren(h('span', {}, 'Thumbnail could not be loaded'));
  });
  const link = h('a', { class: 'card__link' }, img);
  const badgeText = h('span', { class: 'badge__text' });
  const badgeIcon = h('span', { class: 'badge__icon', 'aria-hidden': 'true' });
  const badge = h(
    'span',
    { class: 'badge' },
    badgeIcon,
    h('span', { class: 'visually-hidden' }, 'Status: '),
    badgeText,
  );
  const problem = h('div', { class: 'card__problem', hidden: true });
  const frame = h('div', { class: 'card__frame', dataset: { placeholder: 'none' } }, link, problem, badge);
  const name = h('span', { class: 'card__name' });
  const alt = h('span', { class: 'card__alt' });
  const meta = h('span', { class: 'card__meta' });
  const error = h('span', { class: 'card__error', hidden: true });
  const description = h('details', { class: 'card__description', hidden: true });
  const altSource = h('span', { class: 'card__alt-source', hidden: true });
  const caption = h('figcaption', { class: 'card__caption' }, name, alt, altSource, meta, error, description);
  const retry = h('button', { type: 'button', class: 'button button--small' }, 'Retry');
  const actions = h('div', { class: 'card__actions', hidden: true }, retry);
  const edit = h('button', { type: 'button', class: 'button button--quiet button--small' }, 'Edit alt text');
  const altEditor = h('div', { class: 'card__alt-editor' }, edit);
  const remove = h(
    'button',
    { type: 'button', class: 'button button--quiet button--small button--danger' },
    'Delete',
  );
  const confirmText = h('span', {
    class: 'card__confirm-text',
    id: `confirm-${Math.random().toString(36).slice(2)}`,
  });
  const confirmYes = h(
    'button',
    { type: 'button', class: 'button button--small button--danger-solid' },
    'Delete',
  );
  const confirmNo = h('button', { type: 'button', class: 'button button--quiet button--small' }, 'Keep');
  const confirm = h(
    'div',
    { class: 'card__confirm', role: 'group', 'aria-labelledby': confirmText.id, hidden: true },
    confirmText,
    h('span', { class: 'card__confirm-buttons' }, confirmYes, confirmNo),
  );
  const manage = h('div', { class: 'card__manage' }, remove, confirm);
  const figure = h('figure', { class: 'card' }, frame, caption, actions, altEditor, manage);
  const item = h('li', { class: 'gallery__item', dataset: { key: record.key } }, figure);
  const card = {
    item,
    figure,
    frame,
    link,
    img,
    problem,
    badge,
    badgeText,
    badgeIcon,
    name,
    alt,
    altSource,
    meta,
    error,
    description,
    actions,
    retry,
    edit,
    altEditor,
    remove,
    confirm,
    confirmText,
    confirmYes,
    confirmNo,
    editing: false,
    placeholderFor: null,
  };
  edit.addEventListener('click', () => openAltEditor(card));
  remove.addEventListener('click', () => askToDelete(card));
  confirmNo.addEventListener('click', () => closeConfirm(card, true));
  confirmYes.addEventListener('click', () => deleteImage(card));
  confirm.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closeConfirm(card, true);
  });
  retry.addEventListener('click', () => {
    const failure = card.record?.failure;
    if (failure) retryFailure({ id: failure.id, key: card.record.key, name: card.record.name }, retry);
  });
  return card;
}

function updateCard(card, record) {
  card.record = record;
  const { status } = record;
  card.figure.dataset.status = status;
  card.badge.dataset.status = status;
  card.badgeText.textContent = status;
  card.badgeIcon.textContent = STATUS_ICONS[status] ?? '';

  // Placeholder first: the ThumbHash as the frame's background (or the dominant colour).
  const placeholder = record.placeholder;
  if (placeholder && card.placeholderFor !== placeholder.thumbhash) {
    card.placeholderFor = placeholder.thumbhash;
    if (placeholder.dominantColor) card.frame.style.backgroundColor = placeholder.dominantColor;
    const url = placeholder.thumbhash ? placeholderUrl(placeholder.thumbhash) : null;
    if (url) {
      card.frame.style.backgroundImage = `url("${url}")`;
      card.frame.dataset.placeholder = 'thumbhash';
    } else {
      card.frame.dataset.placeholder = placeholder.dominantColor ? 'color' : 'none';
    }
  }

  // Then the real thumbnail, fading in over the placeholder once loaded.
  const alt = record.altText?.alt || record.name;
  if (card.img.alt !== alt) card.img.alt = alt;
  const thumb = status === 'done' ? pickThumb(record.renditions ?? []) : undefined;
  if (thumb) {
    const src = withToken(thumb.url);
    if (card.img.getAttribute('src') !== src) {
      card.img.classList.remove('is-loaded');
      card.img.hidden = false;
      card.img.src = src;
    }
    const preview = pickPreview(record.renditions);
    card.link.href = withToken(preview.url);
    card.link.title = `Open ${preview.width}×${preview.height} preview`;
  } else {
    card.img.hidden = true;
    card.img.removeAttribute('src');
    card.link.removeAttribute('href');
    card.link.removeAttribute('title');
  }

  const failed = status === 'failed';
  card.problem.hidden = !failed && !(status === 'done' && !thumb);
  if (failed) {
    card.problem.replaceChildren(
      h('span', {}, 'Could not make thumbnails'),
      record.failure?.code ? h('strong', {}, record.failure.code) : '',
    );
  } else if (status === 'done' && !thumb) {
    card.problem.replaceChildren(h('span', {}, 'No thumbnail this browser can show'));
  }

  card.name.textContent = record.name;
  card.name.title = record.key;
  card.alt.textContent = altCaption(record.altText);
  card.alt.dataset.altStatus = record.altText?.status ?? 'unknown';
  const source = altSourceText(record.altText);
  card.altSource.hidden = !source;
  card.altSource.textContent = source;
  card.edit.setAttribute('aria-label', `Edit alt text of ${record.name}`);
  card.remove.setAttribute('aria-label', `Delete ${record.name}`);
  const meta = [];
  if (record.source)
    meta.push(`${record.source.width} × ${record.source.height}`, record.source.format.toUpperCase());
  meta.push(formatBytes(record.bytes));
  card.meta.textContent = meta.filter(Boolean).join(' · ');

  card.error.hidden = !failed;
  card.error.textContent = failed && record.failure ? (record.failure.message ?? '') : '';
  const description = record.altText?.description || undefined;
  card.description.hidden = !description;
  if (description) card.description.replaceChildren(h('summary', {}, 'Description'), h('p', {}, description));

  card.actions.hidden = !(failed && record.failure);
  if (failed && record.failure) card.retry.setAttribute('aria-label', `Retry ${record.name}`);
}

// ---------------------------------------------------------------------------------------------
// Deleting: asked to confirm in the card itself, "Keep" focused first (the safe choice).

function askToDelete(card) {
  const { name } = card.record;
  card.confirmText.textContent = `Delete ${name} with its thumbnails and alt text? This cannot be undone.`;
  card.confirmYes.setAttribute('aria-label', `Delete ${name} for good`);
  card.remove.hidden = true;
  card.confirm.hidden = false;
  card.confirmNo.focus();
}

function closeConfirm(card, refocus) {
  card.confirm.hidden = true;
  card.remove.hidden = false;
  card.confirmYes.disabled = false;
  card.confirmNo.disabled = false;
  if (refocus) card.remove.focus();
}

async function deleteImage(card) {
  const { key, name } = card.record;
  card.confirmYes.disabled = true;
  card.confirmNo.disabled = true;
  try {
    await api(`/api/images/${key.split('/').map(encodeURIComponent).join('/')}`, { method: 'DELETE' });
  } catch (error) {
    announce(`Could not delete ${name}: ${error.message}.`);
    closeConfirm(card, true);
    return;
  }
  // Focus moves to the next card (or the one before, or the upload button), never to nothing.
  const index = images.findIndex((r) => r.key === key);
  const neighbour = images[index + 1] ?? images[index - 1];
  deletedKeys.add(key);
  seenStatus.delete(key);
  images = images.filter((r) => r.key !== key);
  renderGallery();
  const next = neighbour && cards.get(neighbour.key);
  (next ? next.remove : $('dropzone')).focus();
  announce(`${name} deleted.`);
  if (failures.some((f) => f.key === key)) refreshFailures().catch(() => {});
}

// ---------------------------------------------------------------------------------------------
// Polling: every second while anything is queued or processing, or a retry is on its way.

let pollTimer = 0;
let pollUntil = 0;
let pollBackoff = POLL_MS;
let retriesPending = false;

function inFlight() {
  return images.some((r) => IN_FLIGHT.has(r.status) || r.altText?.status === 'queued');
}

function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = 0;
}

function schedulePoll(delay = POLL_MS) {
  if (pollTimer || !$('auth').hidden) return;
  pollTimer = setTimeout(poll, delay);
}

function pollAfterUpload() {
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
      (r) => r.status === 'failed' || failures.some((f) => f.key === r.key),
    );
    if (retriesPending || touchesFailures) {
      settleRetries();
      await refreshFailures();
      retriesPending = retrying.size > 0;
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

// ---------------------------------------------------------------------------------------------
// Failures: the dead letters, with Retry.

const failuresBody = $('failures');
/** @type {any[]} */
let failures = [];
/** failure id -> { id, key, queue, failure } while its retry is on its way */
const retrying = new Map();

async function refreshFailures() {
  const body = await api('/api/failures');
  failures = body.failures ?? [];
  renderFailures();
}

/** Forgets retries whose image has settled again (done, or failed and listed anew). */
function settleRetries() {
  for (const [id, retry] of retrying) {
    const record = images.find((r) => r.key === retry.key);
    const settled =
      retry.queue === 'alt-text' ? record?.altText?.status !== 'queued' : !IN_FLIGHT.has(record?.status);
    if (!record || settled) retrying.delete(id);
  }
}

function renderFailures() {
  const listed = new Set(failures.map((f) => f.id));
  const rows = [
    ...[...retrying.values()]
      .filter((r) => !listed.has(r.id))
      .map((r) => ({ ...r.failure, retryQueued: true })),
    ...failures,
  ];
  const count = $('failures-count');
  count.hidden = failures.length === 0;
  count.textContent = String(failures.length);
  $('failures-empty').hidden = rows.length > 0;
  $('failures-table').hidden = rows.length === 0;

  const focusedId = document.activeElement?.closest?.('tr')?.dataset.failureId;
  failuresBody.replaceChildren(...rows.map(failureRow));
  if (focusedId) {
    const again = failuresBody.querySelector(`tr[data-failure-id="${CSS.escape(focusedId)}"] button`);
    if (again && !again.disabled) again.focus();
    else $('tab-failures').focus();
  }
}

function failureRow(failure) {
  const retry = h(
    'button',
    {
      type: 'button',
      class: 'button button--small',
      'aria-label': `Retry ${failure.name ?? failure.key}`,
      disabled: Boolean(failure.retryQueued),
    },
    failure.retryQueued ? 'Queued' : 'Retry',
  );
  retry.addEventListener('click', () => retryFailure(failure, retry));
  return h(
    'tr',
    {
      dataset: {
        failureId: String(failure.id),
        key: failure.key,
        ...(failure.retryQueued ? { retry: 'queued' } : {}),
      },
    },
    h(
      'td',
      { 'data-label': 'File' },
      h('span', { class: 'failure__name' }, failure.name ?? failure.key),
      h('span', { class: 'failure__key' }, failure.key),
      failure.retryQueued ? h('span', { class: 'failure__state' }, 'Retry queued') : '',
    ),
    h('td', { 'data-label': 'Step' }, failure.queue === 'alt-text' ? 'Alt text' : 'Thumbnails'),
    h('td', { 'data-label': 'Code' }, h('span', { class: 'failure__code' }, failure.code ?? '—')),
    h('td', { 'data-label': 'Message', class: 'failure__message' }, failure.message ?? ''),
    h('td', { 'data-label': 'Attempts', class: 'num failure__attempts' }, String(failure.attempts ?? '')),
    h('td', { 'data-label': 'Last failed' }, timeElement(failure.lastReceivedAt)),
    h('td', {}, retry),
  );
}

async function retryFailure(failure, button) {
  button.disabled = true;
  const label = failure.name ?? failure.key;
  try {
    const result = await api(`/api/failures/${encodeURIComponent(failure.id)}/retry`, { method: 'POST' });
    const known = failures.find((f) => f.id === failure.id) ?? failure;
    retrying.set(failure.id, {
      id: failure.id,
      key: failure.key,
      queue: known.queue ?? 'thumbnail',
      failure: known,
    });
    failures = failures.filter((f) => f.id !== failure.id);
    retriesPending = true;
    announce(`Retry of ${label} ${result?.status === 'queued' ? 'queued' : 'requested'}.`);
    // The image is back in its queue: show it so at once, then follow it.
    const record = images.find((r) => r.key === failure.key);
    if (record && known.queue !== 'alt-text') {
      record.status = 'queued';
      record.failure = null;
      seenStatus.set(record.key, 'queued');
      renderGallery();
    }
    renderFailures();
    stopPolling();
    schedulePoll(POLL_MS);
  } catch (error) {
    button.disabled = false;
    announce(`Could not retry ${label}: ${error.message}.`);
    if (error.status === 404) await refreshFailures().catch(() => {});
  }
}

$('refresh-failures').addEventListener('click', async () => {
  try {
    await refreshFailures();
    announce(`${failures.length} ${failures.length === 1 ? 'failure' : 'failures'}.`);
  } catch (error) {
    announce(`Could not load failures: ${error.message}.`);
  }
});

// ---------------------------------------------------------------------------------------------
// Tabs (WAI-ARIA tabs pattern: arrow keys, Home, End).

const tabs = [$('tab-gallery'), $('tab-failures')];

function selectTab(tab, focus = false) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute('aria-selected', String(selected));
    other.tabIndex = selected ? 0 : -1;
    $(other.getAttribute('aria-controls')).hidden = !selected;
  }
  if (focus) tab.focus();
  if (tab.id === 'tab-failures') refreshFailures().catch(() => {});
  const hash = tab.id === 'tab-failures' ? '#failures' : '';
  if (location.hash !== hash)
    history.replaceState(history.state, '', `${location.pathname}${location.search}${hash}`);
}

for (const tab of tabs) {
  tab.addEventListener('click', () => selectTab(tab));
  tab.addEventListener('keydown', (event) => {
    const index = tabs.indexOf(tab);
    const next = {
      ArrowRight: tabs[(index + 1) % tabs.length],
      ArrowLeft: tabs[(index - 1 + tabs.length) % tabs.length],
      Home: tabs[0],
      End: tabs[tabs.length - 1],
    }[event.key];
    if (next) {
      event.preventDefault();
      selectTab(next, true);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Start

async function refreshAll() {
  try {
    await Promise.all([refreshImages(), refreshFailures()]);
  } catch (error) {
    if (error.status === 401) return;
    if (!galleryLoaded) $('gallery-loading').textContent = `Could not load images: ${error.message}.`;
  }
  if (inFlight() || !galleryLoaded) schedulePoll(galleryLoaded ? POLL_MS : MAX_BACKOFF_MS / 2);
}

takeTokenFromUrl();
configReady.then((config) => {
  if (config.uploadEndpoint) {
    // Hosted for AWS: uploads go to the bucket, and there is no API here to list images from.
    $('views').hidden = true;
    $('footer-note').textContent =
      'Files go straight to the originals bucket; the pipeline makes their thumbnails there.';
    return;
  }
  if (location.hash === '#failures') selectTab(tabs[1]);
  refreshAll();
});
