// The page's settings, config.json beside index.html. Served by `thumbnailer serve`:
// `{"altText": {"configured": bool}}`. Written by `npm run build:page` for a copy hosted for the
// AWS deployment: `{"uploadEndpoint": "https://..."}`, where uploads go straight to the bucket.

/** @type {Promise<{ uploadEndpoint?: string, altText?: { configured: boolean } }>} */
export const configReady = fetch('config.json', {
  cache: 'no-cache',
  headers: { Accept: 'application/json' },
})
  .then((response) => (response.ok ? response.json() : {}))
  .catch(() => ({}));
