// The gallery: one card per image, newest first, with its placeholder, thumbnail, live status and
// alt text; searched by name and filtered by status. A card opens the image's own view.
import { announce } from './announce.js';
import { deleteButton } from './delete-button.js';
import { $, h } from './dom.js';
import { altCaption, altSourceText, applyPlaceholder, formatBytes, pickThumb, plural } from './format.js';
import { imageHref, nextImageView } from './route.js';
import { IN_FLIGHT, loadOlder, retryFailure, state } from './store.js';
import { withToken } from './token.js';

const STATUS_ICONS = { queued: '…', processing: '↻', done: '✓', failed: '✕' };
const FILTERS = {
  '': { label: 'All', matches: () => true },
  'in-progress': { label: 'In progress', matches: (r) => IN_FLIGHT.has(r.status) },
  done: { label: 'Done', matches: (r) => r.status === 'done' },
  failed: { label: 'Failed', matches: (r) => r.status === 'failed' },
};

/** key -> the card's elements */
const cards = new Map();
let loadProblem = '';

export function initGallery() {
  const search = /** @type {HTMLInputElement} */ ($('search'));
  const filter = /** @type {HTMLSelectElement} */ ($('status-filter'));
  let typing = 0;
  search.addEventListener('input', () => {
    renderGallery();
    // Read out once the typing pauses, not for every letter.
    clearTimeout(typing);
    typing = setTimeout(announceMatches, 600);
  });
  filter.addEventListener('change', () => {
    renderGallery();
    announceMatches();
  });
  $('clear-search').addEventListener('click', () => {
    search.value = '';
    filter.value = '';
    renderGallery();
    announceMatches();
    search.focus();
  });
  const more = /** @type {HTMLButtonElement} */ ($('load-more'));
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      await loadOlder();
    } catch (error) {
      announce(`Could not load older images: ${error.message}.`);
    } finally {
      more.disabled = false;
    }
  });
}

/** Shown in place of the list when the first load failed. */
export function showLoadProblem(message) {
  loadProblem = message;
  renderGallery();
}

/** Folds case and accents: "ete" finds "Été.jpg". */
const fold = (text) =>
  text
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '')
    .toLocaleLowerCase();

function currentMatch() {
  const query = fold(/** @type {HTMLInputElement} */ ($('search')).value.trim());
  const filter = FILTERS[/** @type {HTMLSelectElement} */ ($('status-filter')).value] ?? FILTERS[''];
  return {
    active: query !== '' || filter !== FILTERS[''],
    matches: (record) => filter.matches(record) && (query === '' || fold(record.name).includes(query)),
  };
}

function announceMatches() {
  const { active, matches } = currentMatch();
  if (!active) announce(`Showing all ${plural(state.images.length, 'image')}.`);
  else announce(`${plural(state.images.filter(matches).length, 'image')} match.`);
}

export function renderGallery() {
  const { images, galleryLoaded, nextCursor } = state;
  const { active, matches } = currentMatch();
  const shown = images.filter(matches);

  $('gallery-loading').hidden = galleryLoaded || images.length > 0;
  if (!galleryLoaded && loadProblem)
    $('gallery-loading').textContent = `Could not load images: ${loadProblem}.`;
  $('gallery-empty').hidden = !galleryLoaded || images.length > 0;
  $('gallery-tools').hidden = images.length === 0;
  $('gallery-nomatch').hidden = shown.length > 0 || images.length === 0;
  const count = $('gallery-count');
  count.hidden = images.length === 0;
  count.textContent = `${images.length}${nextCursor ? '+' : ''}`;
  $('load-more').hidden = !nextCursor;
  const older = nextCursor ? ' Older images are not loaded yet: “Load older images” below.' : '';
  $('gallery-summary').textContent = active
    ? `${shown.length} of ${plural(images.length, 'image')} shown.${older}`
    : `${plural(images.length, 'image')}, newest first.`;
  for (const option of /** @type {HTMLSelectElement} */ ($('status-filter')).options) {
    const filter = FILTERS[option.value];
    if (!filter) continue;
    const total = option.value === '' ? images.length : images.filter(filter.matches).length;
    const text = `${filter.label} (${total})`;
    if (option.textContent !== text) option.textContent = text;
  }

  const wanted = new Set(images.map((r) => r.key));
  for (const [key, card] of cards) {
    if (!wanted.has(key)) {
      card.item.remove();
      cards.delete(key);
    }
  }
  const gallery = $('gallery');
  images.forEach((record, index) => {
    let card = cards.get(record.key);
    if (!card) {
      card = createCard(record);
      cards.set(record.key, card);
    }
    updateCard(card, record);
    card.item.hidden = !matches(record);
    // Move only what is out of place, so that focus and loading images are left alone.
    if (gallery.children[index] !== card.item)
      gallery.insertBefore(card.item, gallery.children[index] ?? null);
  });
}

/** Back from an image's view: focus on its card's link again (the card stays where it was). */
export function focusCard(key) {
  const card = cards.get(key);
  if (!card || card.item.hidden) return false;
  card.link.focus({ preventScroll: true });
  card.link.scrollIntoView({ block: 'nearest' });
  return true;
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
  const problem = h('div', { class: 'card__problem', hidden: true });
  img.addEventListener('load', () => img.classList.add('is-loaded'));
  img.addEventListener('error', () => {
    img.hidden = true;
    problem.hidden = false;
    problem.replaceChildren(h('span', {}, 'Thumbnail could not be loaded'));
  });
  const link = h('a', { class: 'card__link', href: imageHref(record.key) }, img);
  const badgeText = h('span', { class: 'badge__text' });
  const badgeIcon = h('span', { class: 'badge__icon', 'aria-hidden': 'true' });
  const badge = h(
    'span',
    { class: 'badge' },
    badgeIcon,
    h('span', { class: 'visually-hidden' }, 'Status: '),
    badgeText,
  );
  const frame = h('div', { class: 'card__frame', dataset: { placeholder: 'none' } }, link, problem, badge);
  const name = h('span', { class: 'card__name' });
  const alt = h('span', { class: 'card__alt' });
  const altSource = h('span', { class: 'card__alt-source', hidden: true });
  const meta = h('span', { class: 'card__meta' });
  const error = h('span', { class: 'card__error', hidden: true });
  const caption = h('figcaption', { class: 'card__caption' }, name, alt, altSource, meta, error);
  const retry = h('button', { type: 'button', class: 'button button--small' }, 'Retry');
  const edit = h(
    'a',
    { class: 'button button--quiet button--small', href: imageHref(record.key) },
    'Edit alt text',
  );
  const card = {
    record,
    item: null,
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
  };
  const remove = deleteButton({
    current: () => card.record,
    beforeDelete: () => {
      // Focus moves on to the next card shown (or the one before, or the upload button).
      const shown = state.images.filter((r) => !cards.get(r.key)?.item.hidden);
      const index = shown.findIndex((r) => r.key === card.record.key);
      return shown[index + 1]?.key ?? shown[index - 1]?.key;
    },
    afterDelete: (_key, next) => {
      const neighbour = next && cards.get(next);
      if (neighbour) neighbour.remove.element.querySelector('button')?.focus();
      else $('dropzone').focus();
    },
  });
  const actions = h('div', { class: 'card__actions' }, retry, edit, remove.element);
  const figure = h('figure', { class: 'card' }, frame, caption, actions);
  card.item = h('li', { class: 'gallery__item', dataset: { key: record.key } }, figure);
  Object.assign(card, { figure, meta, error, retry, edit, remove });
  edit.addEventListener('click', () => {
    nextImageView.focus = 'alt';
  });
  retry.addEventListener('click', async () => {
    const failure = card.record?.failure;
    if (!failure) return;
    retry.disabled = true;
    await retryFailure({
      id: failure.id,
      key: card.record.key,
      name: card.record.name,
      queue: 'thumbnail',
    }).catch(() => {});
    retry.disabled = false;
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
  applyPlaceholder(card.frame, record.placeholder);

  // The real thumbnail fades in over the placeholder once loaded. The link around it opens the
  // image's view, named after the file (the caption below reads the alt text).
  const alt = record.altText?.alt || record.name;
  if (card.img.alt !== alt) card.img.alt = alt;
  card.link.setAttribute('aria-label', `Open ${record.name}`);
  const thumb = status === 'done' ? pickThumb(record.renditions) : undefined;
  if (thumb) {
    const src = withToken(thumb.url);
    if (card.img.getAttribute('src') !== src) {
      card.img.classList.remove('is-loaded');
      card.img.hidden = false;
      card.img.src = src;
    }
  } else {
    card.img.hidden = true;
    card.img.removeAttribute('src');
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
  const caption = altCaption(record.altText);
  card.alt.hidden = !caption;
  card.alt.textContent = caption;
  card.alt.dataset.altStatus = record.altText?.status ?? 'unknown';
  const source = altSourceText(record.altText);
  card.altSource.hidden = !source;
  card.altSource.textContent = source;
  const meta = [];
  if (record.source)
    meta.push(`${record.source.width} × ${record.source.height}`, record.source.format.toUpperCase());
  meta.push(formatBytes(record.bytes));
  card.meta.textContent = meta.filter(Boolean).join(' · ');

  card.error.hidden = !failed;
  card.error.textContent = failed && record.failure ? (record.failure.message ?? '') : '';
  // Retry only where it can help: not for a file that is itself the problem.
  card.retry.hidden = !(failed && record.failure && record.failure.retryable !== false);
  card.retry.setAttribute('aria-label', `Retry ${record.name}`);
  card.edit.href = imageHref(record.key);
  card.edit.setAttribute('aria-label', `Edit alt text of ${record.name}`);
  card.remove.label(record.name);
}
