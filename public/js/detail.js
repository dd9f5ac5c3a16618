// One image's view, at #/image/<key>: the image large beside its alt-text editor; the original
// (format, size, bytes, download); every rendition with its size and bytes, a Copy URL and a
// download; an <img srcset> snippet to copy; a failure with Retry (where it can help) and Dismiss.
import { altEditor } from './alt-editor.js';
import { keyPath } from './api.js';
import { copyText } from './clipboard.js';
import { deleteButton } from './delete-button.js';
import { $, actionButton, h, uniqueId } from './dom.js';
import {
  absoluteUrl,
  applyPlaceholder,
  exactBytes,
  formatBytes,
  pickPreview,
  srcsetCandidates,
  srcsetSnippet,
  timeElement,
} from './format.js';
import { nextImageView } from './route.js';
import { dismissFailure, fetchImage, findImage, IN_FLIGHT, retryFailure, subscribe } from './store.js';
import { withToken } from './token.js';

const STATUS_TEXT = {
  queued: 'Queued for thumbnails',
  processing: 'Making thumbnails…',
  done: 'Thumbnails ready',
  failed: 'Could not make thumbnails',
};

let view;
/** The key shown, and the record shown for it. */
let shownKey;
let shownRecord;
let ownPoll = 0;

/** Builds the view once; `leave()` goes back to the list the image was opened from. */
export function initDetail({ altTextConfigured, leave }) {
  const heading = h('h2', { id: 'detail-heading', class: 'detail__title', tabindex: '-1' });
  const badge = h('span', { class: 'badge badge--inline' });
  const key = h('p', { class: 'detail__key' });
  const back = h(
    'a',
    { class: 'detail__back', href: '#' },
    h('span', { 'aria-hidden': 'true' }, '← '),
    'Back to the gallery',
  );
  back.addEventListener('click', (event) => {
    event.preventDefault();
    leave();
  });
  const missing = h('p', { class: 'empty', hidden: true });

  const canvas = h('div', { class: 'detail__canvas', dataset: { placeholder: 'none' } });
  const img = h('img', { class: 'detail__img', alt: '', decoding: 'async', hidden: true });
  img.addEventListener('load', () => img.classList.add('is-loaded'));
  const problem = h('p', { class: 'detail__problem', hidden: true });
  canvas.append(img, problem);
  const previewNote = h('figcaption', { class: 'detail__figcaption' });
  const figure = h(
    'figure',
    { class: 'detail__figure' },
    h('div', { class: 'detail__frame' }, canvas),
    previewNote,
  );

  const editor = altEditor({ altTextConfigured });
  const altHeading = h(
    'h3',
    { class: 'detail__subtitle', id: uniqueId('alt-heading') },
    'Describe this image',
  );
  const failure = h('div', { class: 'detail__failure', role: 'group', hidden: true });
  const side = h(
    'div',
    { class: 'detail__side' },
    h('section', { class: 'detail__alt', 'aria-labelledby': altHeading.id }, altHeading, editor.element),
    failure,
  );

  const original = h('dl', { class: 'facts' });
  const originalLinks = h('div', { class: 'detail__links' });
  const renditions = h('div', { class: 'table-scroll' });
  const snippet = h('code', { id: 'srcset-snippet' });
  const snippetNote = h('p', { class: 'detail__note' });
  const copySnippet = h(
    'button',
    { type: 'button', class: 'button button--small copy-button' },
    'Copy snippet',
  );
  copySnippet.addEventListener('click', () =>
    copyText(snippet.textContent ?? '', snippet, copySnippet, 'the snippet'),
  );
  const snippetSection = section(
    'Use it in a web page',
    h(
      'p',
      { class: 'detail__note' },
      'An <img> with every size of the same picture: the browser picks the one the layout needs.',
    ),
    h('pre', { class: 'snippet', tabindex: '0', 'aria-label': 'HTML snippet' }, snippet),
    h('div', { class: 'detail__links' }, copySnippet),
    snippetNote,
  );
  const remove = deleteButton({
    current: () => shownRecord,
    small: false,
    afterDelete: () => leave({ deleted: true }),
  });

  view = {
    heading,
    badge,
    key,
    missing,
    layout: h('div', { class: 'detail__layout' }, figure, side),
    canvas,
    img,
    problem,
    previewNote,
    editor,
    failure,
    original,
    originalLinks,
    renditions,
    snippet,
    snippetNote,
    snippetSection,
    remove,
  };
  view.body = h(
    'div',
    { class: 'detail__body' },
    view.layout,
    section('Original', original, originalLinks),
    section('Renditions', renditions),
    snippetSection,
    h('div', { class: 'detail__danger' }, remove.element),
  );
  $('detail').append(
    h('nav', { class: 'detail__nav', 'aria-label': 'Back' }, back),
    h('header', { class: 'detail__header' }, heading, badge, key),
    missing,
    view.body,
  );

  subscribe(({ images }) => {
    if (!images || !shownKey || $('detail').hidden) return;
    const record = findImage(shownKey);
    if (record && record !== shownRecord) show(record);
  });
}

function section(title, ...content) {
  const heading = h('h3', { class: 'detail__subtitle', id: uniqueId('section') }, title);
  return h('section', { class: 'detail__section', 'aria-labelledby': heading.id }, heading, ...content);
}

/** Opens the view on `key`: the record listed, then a fresh one from the server. */
export async function openDetail(key) {
  const focus = nextImageView.focus;
  nextImageView.focus = 'heading';
  const changedKey = shownKey !== key;
  shownKey = key;
  clearTimeout(ownPoll);
  const listed = findImage(key);
  if (changedKey) {
    shownRecord = undefined;
    view.missing.hidden = true;
    view.body.hidden = !listed;
    view.heading.textContent = listed?.name ?? 'Loading…';
    view.key.textContent = key;
    view.badge.hidden = true;
  }
  if (listed) show(listed);
  if (focus === 'alt' && listed) view.editor.focus();
  else view.heading.focus();
  try {
    const fresh = await fetchImage(key);
    if (shownKey !== key) return;
    show(fresh);
    if (focus === 'alt' && !listed) view.editor.focus();
    followUnlisted();
  } catch (error) {
    if (shownKey !== key || listed) return;
    view.body.hidden = true;
    view.missing.hidden = false;
    view.heading.textContent = error.status === 404 ? 'Image not found' : 'Could not load the image';
    view.missing.textContent =
      error.status === 404
        ? 'There is no image with this key: it may have been deleted.'
        : `Could not load it: ${error.message}.`;
    document.title = `${view.heading.textContent} · Thumbnailer`;
  }
}

/** Leaves the view: its own polling stops. */
export function closeDetail() {
  clearTimeout(ownPoll);
  shownKey = undefined;
}

/** An image not in the list (an older one, linked): followed here while it is in flight. */
function followUnlisted() {
  clearTimeout(ownPoll);
  const record = shownRecord;
  if (!record || findImage(record.key)) return;
  if (!IN_FLIGHT.has(record.status) && record.altText?.status !== 'queued') return;
  ownPoll = setTimeout(async () => {
    if (shownKey !== record.key) return;
    try {
      show(await fetchImage(record.key));
    } catch {
      // tried again below
    }
    followUnlisted();
  }, 1000);
}

function show(record) {
  shownRecord = record;
  view.body.hidden = false;
  view.missing.hidden = true;
  view.heading.textContent = record.name;
  view.key.textContent = record.key;
  view.badge.hidden = false;
  view.badge.dataset.status = record.status;
  view.badge.textContent = STATUS_TEXT[record.status] ?? record.status;
  document.title = `${record.name} · Thumbnailer`;
  showImage(record);
  view.editor.show(record);
  // Rebuilt only when what they show changed: a poll must not take focus (or "Copied") away.
  once('failure', [record.key, record.status, record.failure], () => showFailure(record));
  once('original', [record.key, record.source, record.bytes, record.uploadedAt], () => showOriginal(record));
  once('renditions', [record.key, record.status, record.renditions], () => showRenditions(record));
  const text = srcsetSnippet(record);
  view.snippetSection.hidden = !text;
  view.snippet.textContent = text;
  const listed = new Set(srcsetCandidates(record));
  const others = (record.renditions ?? []).filter((rendition) => !listed.has(rendition));
  view.snippetNote.textContent = [
    others.length
      ? `Not in it: ${others.map((r) => r.preset).join(', ')} (another crop or format: one srcset lists sizes of one picture).`
      : '',
    record.altText?.alt
      ? ''
      : 'This image has no alt text yet: write it above, or replace "Describe the image".',
  ]
    .filter(Boolean)
    .join(' ');
  view.snippetNote.hidden = !view.snippetNote.textContent;
  view.remove.label(record.name);
}

/** Runs `render` unless `inputs` are those of its last run. */
const lastInputs = new Map();
function once(part, inputs, render) {
  const signature = JSON.stringify(inputs);
  if (lastInputs.get(part) === signature) return;
  lastInputs.set(part, signature);
  render();
}

function showImage(record) {
  const { canvas, img, problem, previewNote } = view;
  // The frame keeps the picture's proportions from the start: nothing moves when it loads.
  const ratio = record.source ? record.source.width / record.source.height : 4 / 3;
  canvas.style.aspectRatio = String(ratio);
  canvas.style.width = `min(100%, calc(70vh * ${ratio.toFixed(4)}))`;
  applyPlaceholder(canvas, record.placeholder);
  const preview = record.status === 'done' ? pickPreview(record.renditions) : undefined;
  const alt = record.altText?.alt || record.name;
  if (img.alt !== alt) img.alt = alt;
  if (preview) {
    const src = withToken(preview.url);
    if (img.getAttribute('src') !== src) {
      img.classList.remove('is-loaded');
      img.src = src;
    }
    img.hidden = false;
    previewNote.textContent = `Shown: ${preview.preset}, ${preview.format.toUpperCase()} ${preview.width} × ${preview.height}.`;
  } else {
    img.hidden = true;
    img.removeAttribute('src');
    previewNote.textContent = '';
  }
  const text =
    record.status === 'failed'
      ? 'Could not make thumbnails'
      : record.status === 'done' && !preview
        ? 'No rendition this browser can show'
        : IN_FLIGHT.has(record.status)
          ? 'Making thumbnails…'
          : '';
  problem.hidden = !text;
  problem.textContent = text;
  problem.dataset.kind = record.status === 'failed' ? 'failed' : 'waiting';
}

function showFailure(record) {
  const { failure } = view;
  const dead = record.status === 'failed' ? record.failure : null;
  // A failure already dismissed has no record left: the image just has no thumbnails.
  failure.hidden = record.status !== 'failed';
  if (failure.hidden) return;
  const title = h('h3', { class: 'detail__subtitle', id: uniqueId('failure') }, 'Processing failed');
  failure.setAttribute('aria-labelledby', title.id);
  if (!dead) {
    failure.replaceChildren(
      title,
      h('p', {}, 'Its failure was dismissed. Upload the file again, or delete it.'),
    );
    return;
  }
  const label = record.name;
  const retry = actionButton({ class: 'button button--small', 'aria-label': `Retry ${label}` }, 'Retry', () =>
    retryFailure({ id: dead.id, key: record.key, name: label, queue: 'thumbnail' }),
  );
  const dismiss = actionButton(
    { class: 'button button--quiet button--small', 'aria-label': `Dismiss the failure of ${label}` },
    'Dismiss',
    () => dismissFailure({ id: dead.id, key: record.key, name: label }),
  );
  const retryable = dead.retryable !== false;
  failure.replaceChildren(
    title,
    h('p', {}, h('span', { class: 'failure__code' }, dead.code ?? 'UNKNOWN'), ' ', dead.message ?? ''),
    h('p', { class: 'detail__note' }, `${dead.attempts} ${dead.attempts === 1 ? 'attempt' : 'attempts'}.`),
    retryable ? '' : h('p', { class: 'detail__note' }, 'Retry cannot help: the file itself is the problem.'),
    h('div', { class: 'detail__links' }, retryable ? retry : '', dismiss),
  );
}

function showOriginal(record) {
  const fact = (term, ...value) => [h('dt', {}, term), h('dd', {}, ...value)];
  const source = record.source;
  view.original.replaceChildren(
    ...fact('File name', record.name),
    ...(source
      ? [
          ...fact('Format', source.format.toUpperCase()),
          ...fact('Dimensions', `${source.width} × ${source.height} px`),
        ]
      : []),
    ...fact('Size', `${formatBytes(record.bytes)} (${exactBytes(record.bytes)})`),
    ...fact('Uploaded', timeElement(record.uploadedAt)),
    ...fact('Key', h('code', {}, record.key)),
  );
  const url = keyPath('/originals', record.key);
  view.originalLinks.replaceChildren(
    h(
      'a',
      { class: 'button button--small', href: withToken(url), download: record.name },
      'Download original',
    ),
    h(
      'a',
      {
        class: 'button button--quiet button--small',
        href: withToken(url),
        target: '_blank',
        rel: 'noopener',
      },
      'Open original',
      h('span', { class: 'visually-hidden' }, ' (new tab)'),
    ),
  );
}

function showRenditions(record) {
  const list = record.renditions ?? [];
  if (list.length === 0) {
    view.renditions.replaceChildren(
      h(
        'p',
        { class: 'empty' },
        IN_FLIGHT.has(record.status)
          ? 'Not made yet: they appear here when the thumbnails are ready.'
          : 'None.',
      ),
    );
    return;
  }
  const stem = record.name.replace(/\.[^.]+$/, '');
  const rows = list.map((rendition) => {
    const url = h(
      'code',
      { class: 'rendition__url', title: absoluteUrl(rendition.url) },
      absoluteUrl(rendition.url),
    );
    const what = `${rendition.preset} (${rendition.format.toUpperCase()}, ${rendition.width} × ${rendition.height})`;
    const copy = h(
      'button',
      { type: 'button', class: 'button button--small copy-button', 'aria-label': `Copy URL of ${what}` },
      'Copy URL',
    );
    copy.addEventListener('click', () =>
      copyText(absoluteUrl(rendition.url), url, copy, `the URL of ${rendition.preset}`),
    );
    const extension = rendition.key.slice(rendition.key.lastIndexOf('.') + 1);
    return h(
      'tr',
      { dataset: { preset: rendition.preset } },
      h('th', { scope: 'row' }, rendition.preset),
      h('td', { 'data-label': 'Format' }, rendition.format.toUpperCase()),
      h('td', { class: 'num', 'data-label': 'Dimensions' }, `${rendition.width} × ${rendition.height}`),
      h(
        'td',
        { class: 'num', 'data-label': 'Size', title: exactBytes(rendition.bytes) },
        formatBytes(rendition.bytes),
      ),
      h('td', { class: 'rendition__url-cell', 'data-label': 'URL' }, url),
      h(
        'td',
        { class: 'rendition__actions' },
        copy,
        h(
          'a',
          {
            class: 'button button--quiet button--small',
            href: withToken(rendition.url),
            download: `${stem}-${rendition.preset}.${extension}`,
            'aria-label': `Download ${what}`,
          },
          'Download',
        ),
      ),
    );
  });
  view.renditions.replaceChildren(
    h(
      'table',
      { class: 'data-table renditions' },
      h('caption', { class: 'visually-hidden' }, `Renditions of ${record.name}`),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Preset', 'Format', 'Dimensions', 'Size', 'URL'].map((name) =>
            h('th', { scope: 'col', class: name === 'Dimensions' || name === 'Size' ? 'num' : '' }, name),
          ),
          h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')),
        ),
      ),
      h('tbody', {}, ...rows),
    ),
  );
}
