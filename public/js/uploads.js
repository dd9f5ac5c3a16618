// Uploads: every file chosen or dropped, listed in the order chosen with its state and a total,
// sent a few at a time with one XMLHttpRequest each (fetch reports no upload progress). Locally
// to /api/images; on a page hosted for AWS, straight to the originals bucket with a presigned
// POST that the upload endpoint signs for each file.
import { announce } from './announce.js';
import { ApiError, errorFrom, hideAuthProblem, showAuthProblem } from './api.js';
import { configReady } from './config.js';
import { $, h } from './dom.js';
import { formatBytes, plural } from './format.js';
import { addQueuedImage, pollSoon } from './store.js';
import { authHeaders } from './token.js';

const UPLOAD_CONCURRENCY = 3;
const NETWORK_MESSAGE =
  'the connection failed before the upload finished (server unreachable, or the file is over its size limit)';

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

/** Every upload listed, in the order chosen: { file, element, progress, status, state }. */
const items = [];
const waiting = [];
let active = 0;

export function initUploads() {
  const fileInput = /** @type {HTMLInputElement} */ ($('file-input'));
  const dropzone = $('dropzone');
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
    for (let index = items.length - 1; index >= 0; index--) {
      if (items[index].state === 'done' || items[index].state === 'error') {
        items[index].element.remove();
        items.splice(index, 1);
      }
    }
    updateSummary();
    dropzone.focus();
  });
}

function addFiles(files) {
  // Dropped files while an image's page is open: back to the list, where they show.
  if (location.hash.startsWith('#/image/')) location.hash = '';
  announce(`Uploading ${plural(files.length, 'file')}.`);
  for (const file of files) {
    const progress = h('progress', { max: 100, value: 0, 'aria-label': `Upload progress of ${file.name}` });
    const status = h('span', { class: 'upload-item__status' }, 'Waiting…');
    const name = h('span', { class: 'upload-item__name', title: file.name }, file.name);
    const element = h(
      'li',
      { class: 'upload-item', dataset: { state: 'waiting' } },
      h(
        'span',
        { class: 'upload-item__file' },
        name,
        ' ',
        h('span', { class: 'upload-item__size' }, formatBytes(file.size)),
      ),
      status,
      progress,
    );
    const item = { file, element, progress, status, name, state: 'waiting' };
    $('uploads').append(element);
    items.push(item);
    waiting.push(item);
  }
  updateSummary();
  pump();
}

function pump() {
  while (active < UPLOAD_CONCURRENCY && waiting.length > 0) {
    const item = waiting.shift();
    active += 1;
    upload(item).finally(() => {
      active -= 1;
      pump();
    });
  }
}

function setState(item, state, text) {
  item.state = state;
  item.element.dataset.state = state;
  item.status.textContent = text;
  updateSummary();
}

/** The total over the list: how many files, how many bytes, how many uploaded, failed, to go. */
function updateSummary() {
  $('uploads-area').hidden = items.length === 0;
  const count = (state) => items.filter((item) => item.state === state).length;
  const bytes = items.reduce((sum, item) => sum + item.file.size, 0);
  const parts = [`${count('done')} uploaded`];
  if (count('error')) parts.push(`${count('error')} failed`);
  if (count('uploading')) parts.push(`${count('uploading')} uploading`);
  if (count('waiting')) parts.push(`${count('waiting')} waiting`);
  $('uploads-total').textContent =
    `${plural(items.length, 'file')}, ${formatBytes(bytes)}: ${parts.join(', ')}`;
  $('clear-uploads').hidden = count('done') + count('error') === 0;
}

async function upload(item) {
  const { file, element, progress } = item;
  setState(item, 'uploading', 'Uploading… 0%');
  try {
    const config = await configReady;
    if (config.uploadEndpoint) {
      const key = await uploadToBucket(item, config.uploadEndpoint);
      progress.value = 100;
      element.append(h('p', { class: 'upload-item__key' }, `Stored as ${key}`));
      setState(item, 'done', 'Uploaded');
      announce(`Uploaded ${file.name} to the originals bucket; its thumbnails are made there.`);
      hideAuthProblem();
      return;
    }
    const accepted = await uploadToServer(item);
    progress.value = 100;
    setState(item, 'done', 'Uploaded');
    announce(`Uploaded ${file.name}; it is queued for thumbnails.`);
    hideAuthProblem();
    for (const entry of accepted) addQueuedImage(entry, file);
    // The name becomes a link to the image's page.
    const key = accepted[0]?.key;
    if (key) {
      const link = h(
        'a',
        { class: 'upload-item__name', href: `#/image/${encodeURIComponent(key)}`, title: file.name },
        file.name,
      );
      item.name.replaceWith(link);
      item.name = link;
    }
    pollSoon();
  } catch (thrown) {
    const error =
      thrown instanceof ApiError ? thrown : new ApiError(0, 'ERROR', String(thrown?.message ?? thrown));
    element.append(h('p', { class: 'upload-item__error' }, `${error.code}: ${error.message}`));
    setState(item, 'error', 'Upload failed');
    announce(`Could not upload ${file.name}: ${error.message}.`);
    if (error.status === 401) showAuthProblem(error.message);
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
 * One XMLHttpRequest: resolves with the answer's status and text; rejects on a network failure,
 * which is also what a browser reports when the server closes the connection on an over-limit
 * body before reading it.
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
