// Thumbnailer's page: uploads, the gallery (search, filter), each image's own view, failures.
// Plain ES modules, no framework, no build step: this file wires the views in js/ together and
// routes between them. Paths are relative, so that a copy hosted under any path works
// (npm run build:page); the server also serves thumbhash at vendor/.
import { hideAuthProblem } from './js/api.js';
import { configReady } from './js/config.js';
import { closeDetail, initDetail, openDetail } from './js/detail.js';
import { $ } from './js/dom.js';
import { initFailures, renderFailures } from './js/failures.js';
import { focusCard, initGallery, renderGallery, showLoadProblem } from './js/gallery.js';
import { imageKeyOf } from './js/route.js';
import { refreshAll, refreshFailures, state, subscribe } from './js/store.js';
import { saveToken, takeTokenFromUrl } from './js/token.js';
import { initUploads } from './js/uploads.js';

const BANNER_KEY = 'thumbnailer.altTextBanner';
const tabs = [$('tab-gallery'), $('tab-failures')];

// Tabs (WAI-ARIA tabs pattern: arrow keys, Home, End). The failures tab is `#failures`.

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

// Routes: the lists (gallery, failures) or one image. Going to an image and back keeps the
// list's scroll position and puts focus back on the image's card.

let showingImage;
let openedFromList = false;
let listScroll = 0;

function route() {
  const key = imageKeyOf(location.hash);
  const listView = [$('upload-panel'), $('views')];
  if (key) {
    if (showingImage === undefined) {
      listScroll = scrollY;
    }
    showingImage = key;
    for (const element of listView) element.hidden = true;
    $('alt-text-off').hidden = true;
    $('detail').hidden = false;
    scrollTo(0, 0);
    openDetail(key);
    return;
  }
  const returningFrom = showingImage;
  showingImage = undefined;
  openedFromList = false;
  closeDetail();
  $('detail').hidden = true;
  for (const element of listView) element.hidden = false;
  showAltTextBanner();
  document.title = 'Thumbnailer';
  selectTab(location.hash === '#failures' ? tabs[1] : tabs[0]);
  if (returningFrom !== undefined) {
    scrollTo(0, listScroll);
    if (!focusCard(returningFrom)) $('main').focus({ preventScroll: true });
  }
}

/** Back from an image: through history when it was opened from a list here, else to the gallery. */
function leave({ deleted = false } = {}) {
  if (openedFromList && !deleted) {
    history.back();
    return;
  }
  history.replaceState(history.state, '', `${location.pathname}${location.search}`);
  route();
  if (deleted) $('dropzone').focus();
}

// Alt text off: one banner saying how to turn it on, instead of a note on every card.

let altTextOff = false;

function showAltTextBanner() {
  let hiddenByUser = false;
  try {
    hiddenByUser = localStorage.getItem(BANNER_KEY) === 'hidden';
  } catch {
    // no storage: shown
  }
  $('alt-text-off').hidden = !altTextOff || hiddenByUser;
}

$('hide-alt-text-off').addEventListener('click', () => {
  try {
    localStorage.setItem(BANNER_KEY, 'hidden');
  } catch {
    // no storage: hidden for this page only
  }
  $('alt-text-off').hidden = true;
  $('main').focus();
});

$('auth-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('auth-token'));
  saveToken(input.value.trim());
  input.value = '';
  hideAuthProblem();
  start();
});

async function start() {
  const problem = await refreshAll();
  if (problem && !state.galleryLoaded) showLoadProblem(problem.message);
}

takeTokenFromUrl();
initUploads();
configReady.then((config) => {
  if (config.uploadEndpoint) {
    // Hosted for AWS: uploads go to the bucket, and there is no API here to list images from.
    $('views').hidden = true;
    $('footer-note').textContent =
      'Files go straight to the originals bucket; the pipeline makes their thumbnails there.';
    return;
  }
  altTextOff = config.altText?.configured === false;
  initGallery();
  initFailures();
  initDetail({ altTextConfigured: !altTextOff, leave });
  subscribe(({ images, failures }) => {
    if (images) renderGallery();
    if (failures) renderFailures();
  });
  window.addEventListener('hashchange', (event) => {
    const from = new URL(event.oldURL).hash;
    const to = location.hash;
    if (imageKeyOf(to) && !imageKeyOf(from)) {
      route();
      openedFromList = true;
      return;
    }
    route();
  });
  route();
  start();
});
