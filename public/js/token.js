// The access token: `?token=` is kept in sessionStorage and sent as a Bearer header (and on
// <img>/<a> URLs, which cannot send headers).

const TOKEN_KEY = 'thumbnailer.token';
let memoryToken = null;

export function readToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? memoryToken;
  } catch {
    return memoryToken;
  }
}

export function saveToken(value) {
  memoryToken = value || null;
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage refused (privacy mode): the in-memory copy lasts for this page.
  }
}

/** Takes `?token=` out of the address (and history, bookmarks): this tab's storage keeps it. */
export function takeTokenFromUrl() {
  const url = new URL(location.href);
  if (!url.searchParams.has('token')) return;
  saveToken(url.searchParams.get('token'));
  url.searchParams.delete('token');
  history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
}

export function authHeaders() {
  const token = readToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** A same-origin URL for <img>/<a>, with ?token= when there is one. */
export function withToken(url) {
  const token = readToken();
  if (!token) return url;
  const parsed = new URL(url, location.origin);
  parsed.searchParams.set('token', token);
  return `${parsed.pathname}${parsed.search}`;
}
