// Who this browser signs in as: the token kept in storage (a guest's, or a host app's JWT), or
// one a link handed over that the server has not accepted yet. A page framed by a host app
// takes who it is from that host only (the #token= fragment or a `token` message) and keeps it
// in memory: a cross-site frame may have no storage at all, or storage of its own that another
// visit of another host left behind.
import { format } from './i18n.js';
import { readItem, writeItem } from '../sdk/storage.js';

const TOKEN_KEY = 'parley.token';

/** Whether this page is inside a frame (a host app embedding it). */
export const framed = window.self !== window.top;

/** @type {string | null} a host app's token from the link, until the server accepts it */
let linkToken = null;
/** @type {string | null} a framed page's identity, for this page's life */
let heldToken = null;

/**
 * A host app hands over its own token (a JWT) in the fragment (#token=…), which never reaches a
 * server log. A link is anyone's to make, so: a guest token in it (this server's guest mode) is
 * never taken; a token of another person than the one this browser is asks first; and the
 * token is only kept in memory until the server accepts it (a guest-mode server refuses it).
 * A framed page has nothing stored to replace: the host's token is who it is.
 */
export function takeTokenFromLink() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (!token) return;
  history.replaceState(null, '', location.pathname + location.search);
  if (token.startsWith('g1.')) return;
  const stored = framed ? null : readItem(TOKEN_KEY);
  if (stored && subjectOf(stored) !== subjectOf(token)) {
    const name = claimsOf(token)?.name;
    if (!window.confirm(format('identity.replace', { name: typeof name === 'string' ? name : '?' }))) return;
  }
  linkToken = token;
}

/**
 * The host app of a framed page sent its user's token (a `token` message): who the page is
 * from now on. A guest token is never taken. @param {unknown} token @returns {boolean} taken
 */
export function takeHostToken(token) {
  if (!framed || typeof token !== 'string' || !token || token.length > 4096 || token.startsWith('g1.')) return false;
  linkToken = token;
  return true;
}

/** The identity to sign in with: a link's token not yet accepted, or this browser's own. */
export function currentToken() {
  return linkToken ?? (framed ? heldToken : readItem(TOKEN_KEY));
}

/**
 * The server welcomed us: a link's token it accepted is who this browser is now, and a token
 * it issued (a new guest's) is kept for the next visit (in a frame: for this page's life).
 * @param {string | null | undefined} issued
 */
export function keepIdentity(issued) {
  const accepted = issued ?? linkToken;
  linkToken = null;
  if (!accepted) return;
  if (framed) heldToken = accepted;
  else writeItem(TOKEN_KEY, accepted);
}

/** The claims of a JWT, or null for anything else (a guest token).
 * @param {string} token @returns {Record<string, unknown> | null} */
function claimsOf(token) {
  const payload = token.split('.')[1] ?? '';
  try {
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/** Who a token names: a JWT's subject, or the token itself.
 * @param {string} token */
function subjectOf(token) {
  const sub = claimsOf(token)?.sub;
  return typeof sub === 'string' ? `jwt:${sub}` : token;
}
