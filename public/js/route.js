// The page's routes, in the URL's fragment so that they can be linked and Back works:
// `#/image/<key>` (one image), `#failures` (the failures tab), anything else the gallery.

export const IMAGE_ROUTE = '#/image/';

export function imageHref(key) {
  return `${IMAGE_ROUTE}${encodeURIComponent(key)}`;
}

/** The key of `#/image/<key>`, or undefined on another route. */
export function imageKeyOf(hash) {
  if (!hash.startsWith(IMAGE_ROUTE)) return undefined;
  try {
    return decodeURIComponent(hash.slice(IMAGE_ROUTE.length)) || undefined;
  } catch {
    return undefined;
  }
}

/** What the next image view should focus first: its heading, or ('alt') the alt-text field. */
export const nextImageView = { focus: 'heading' };
