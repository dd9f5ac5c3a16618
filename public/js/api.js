// Requests to the local API: the token on each, errors as ApiError, and the notices that follow
// from them (a token is needed; the server cannot be reached).
import { $ } from './dom.js';
import { authHeaders, readToken } from './token.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Tells the views that a token is needed: polling stops until one is given. */
export const apiEvents = new EventTarget();

/** The server's `{"error":{"code","message"}}`, or a stand-in when the body is not that. */
export function errorFrom(status, text) {
  try {
    const body = JSON.parse(text);
    if (body?.error?.code)
      return new ApiError(status, body.error.code, body.error.message ?? body.error.code);
  } catch {
    // not JSON
  }
  return new ApiError(status, `HTTP_${status}`, `the server answered ${status}`);
}

/** `/api/images/<key>` and the like: each key segment percent-encoded. */
export function keyPath(prefix, key) {
  return `${prefix}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

export async function api(path, options = {}) {
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

export function showAuthProblem(message) {
  const section = $('auth');
  $('auth-message').textContent = readToken()
    ? `The access token was refused (${message}). Enter the right token to continue.`
    : `This server requires an access token (${message}). Open the page as /?token=<your token>, or enter it here.`;
  if (section.hidden) {
    section.hidden = false;
    apiEvents.dispatchEvent(new Event('unauthorized'));
  }
}

export function hideAuthProblem() {
  $('auth').hidden = true;
}

export function authProblemShown() {
  return !$('auth').hidden;
}

function showOffline(offline) {
  const notice = $('offline');
  if (offline) notice.textContent = 'Cannot reach the Thumbnailer server. Trying again…';
  notice.hidden = !offline;
}
