// How records are shown: sizes, dates, placeholders, alt-text captions, which rendition where,
// and the <img srcset> snippet of the detail view.
import { thumbHashToDataURL } from '../vendor/thumbhash.js';
import { h } from './dom.js';

/** Formats a browser shows in <img>: the renditions the page may display. */
const BROWSER_FORMATS = new Set(['webp', 'jpeg', 'png', 'avif', 'gif']);
/** For the snippet, when several formats could serve: the smallest files first. */
const SNIPPET_FORMATS = ['avif', 'webp', 'jpeg', 'png', 'gif'];

export function formatBytes(bytes) {
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

/** `1,021,283 bytes`: the exact count, beside the rounded size. */
export function exactBytes(bytes) {
  return `${new Intl.NumberFormat().format(bytes)} bytes`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function timeElement(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return h('time', { datetime: iso, title: iso }, dateFormat.format(date));
}

export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

function placeholderUrl(base64) {
  try {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return thumbHashToDataURL(bytes);
  } catch {
    return null;
  }
}

/**
 * Paints a record's placeholder as `frame`'s background: the ThumbHash (or the dominant colour)
 * until the real image has loaded over it. Painted once per placeholder.
 */
export function applyPlaceholder(frame, placeholder) {
  if (!placeholder || frame.dataset.placeholderFor === placeholder.thumbhash) return;
  frame.dataset.placeholderFor = placeholder.thumbhash ?? '';
  if (placeholder.dominantColor) frame.style.backgroundColor = placeholder.dominantColor;
  const url = placeholder.thumbhash ? placeholderUrl(placeholder.thumbhash) : null;
  if (url) {
    frame.style.backgroundImage = `url("${url}")`;
    frame.dataset.placeholder = 'thumbhash';
  } else {
    frame.dataset.placeholder = placeholder.dominantColor ? 'color' : 'none';
  }
}

/**
 * The alt-text line of a card: the text there is (from a model or a person, even while a new one
 * is pending or failed), else what became of it. Nothing while alt text is off: one banner says so.
 */
export function altCaption(altText) {
  if (altText?.alt) return altText.alt;
  switch (altText?.status) {
    case 'done':
      return 'Alt text: none was generated';
    case 'queued':
      return 'Alt text: pending';
    case 'failed':
      return altText.error?.code ? `Alt text: failed (${altText.error.code})` : 'Alt text: failed';
    default:
      return '';
  }
}

/** Who wrote the alt text: a person, or which model (and whether an earlier answer was reused). */
export function altSourceText(altText) {
  if (!altText?.alt) return '';
  if (altText.status === 'queued') return 'New alt text pending';
  if (altText.status === 'failed')
    return `New alt text failed${altText.error?.code ? ` (${altText.error.code})` : ''}`;
  if (altText.edited) return 'Alt text edited by a person';
  if (altText.model)
    return `Alt text by ${altText.model}${altText.reused ? ' (reused for identical image)' : ''}`;
  return '';
}

const shown = (renditions) => (renditions ?? []).filter((r) => BROWSER_FORMATS.has(r.format));
const area = (r) => r.width * r.height;

/** The card-sized rendition: preset `thumb`, else the smallest one a browser can show. */
export function pickThumb(renditions) {
  const list = shown(renditions);
  return list.find((r) => r.preset === 'thumb') ?? [...list].sort((a, b) => area(a) - area(b))[0];
}

/** The large one: preset `preview`, else the largest a browser can show. */
export function pickPreview(renditions) {
  const list = shown(renditions);
  return list.find((r) => r.preset === 'preview') ?? [...list].sort((a, b) => area(b) - area(a))[0];
}

/** An absolute URL (for copying: a snippet or link used elsewhere); never with the token. */
export function absoluteUrl(url) {
  return new URL(url, location.href).href;
}

const attribute = (value) =>
  String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('"', '&quot;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;');

/**
 * The renditions one `srcset` may list: the same picture (same aspect ratio, so not a square crop
 * beside the whole image) in one format, widest last. Prefers the source's own aspect ratio,
 * then the group with the most sizes, then the format with the smallest files.
 */
export function srcsetCandidates(record) {
  const groups = new Map();
  for (const rendition of shown(record.renditions)) {
    const ratio = (rendition.width / rendition.height).toFixed(2);
    const id = `${rendition.format} ${ratio}`;
    if (!groups.has(id)) groups.set(id, { ratio, format: rendition.format, renditions: [] });
    groups.get(id).renditions.push(rendition);
  }
  const sourceRatio = record.source ? (record.source.width / record.source.height).toFixed(2) : undefined;
  const ranked = [...groups.values()].sort(
    (a, b) =>
      Number(b.ratio === sourceRatio) - Number(a.ratio === sourceRatio) ||
      b.renditions.length - a.renditions.length ||
      SNIPPET_FORMATS.indexOf(a.format) - SNIPPET_FORMATS.indexOf(b.format),
  );
  return (ranked[0]?.renditions ?? []).sort((a, b) => a.width - b.width);
}

/** `<img src srcset sizes width height alt>` for a page elsewhere, with absolute URLs. */
export function srcsetSnippet(record) {
  const candidates = srcsetCandidates(record);
  const largest = candidates[candidates.length - 1];
  if (!largest) return '';
  const alt = record.altText?.alt || 'Describe the image';
  return [
    '<img',
    `  src="${attribute(absoluteUrl(largest.url))}"`,
    `  srcset="${candidates.map((r) => `${attribute(absoluteUrl(r.url))} ${r.width}w`).join(', ')}"`,
    `  sizes="(max-width: ${largest.width}px) 100vw, ${largest.width}px"`,
    `  width="${largest.width}" height="${largest.height}"`,
    `  alt="${attribute(alt)}"`,
    '  loading="lazy" decoding="async">',
  ].join('\n');
}
