// Who this browser signs in as: the token kept in localStorage (a guest's, or a host app's
// JWT), or one a link handed over that the server has not accepted yet.
import { format } from './i18n.js';

const TOKEN_KEY = 'parley.token';

/** @type {string | null} a host app's token from the link, until the server accepts it */
let linkToken = null;

/**
 * A host app hands over its own token (a JWT) in the fragment (#token=…), which never reaches a
 * server log. A link is anyone's to make, so: a guest token in it (this server's guest mode) is
 * never taken; a token of another person than the one this browser is asks first; and the
 * token is only kept in memory until the server accepts it (a guest-mode server refuses it).
 */
export function takeTokenFromLink() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (!token) return;
  history.replaceState(null, '', location.pathname + location.search);
  if (token.startsWith('g1.')) return;
  const stored = localStorage.getItem(TOKEN_KEY);
  if (stored && subjectOf(stored) !== subjectOf(token)) {
    const name = claimsOf(token)?.name;
    if (!window.confirm(format('identity.replace', { name: typeof name === 'string' ? name : '?' }))) return;
  }
  linkToken = token;
}

/** The identity to sign in with: a link's token not yet accepted, or this browser's own. */
export function currentToken() {
  return linkToken ?? localStorage.getItem(TOKEN_KEY);
}

/**
 * The server welcomed us: a link's token it accepted is who this browser is now, and a token
 * it issued (a new guest's) is kept for the next visit.
 * @param {string | null | undefined} issued
 */
export function keepIdentity(issued) {
  if (linkToken) localStorage.setItem(TOKEN_KEY, linkToken);
  linkToken = null;
  if (issued) localStorage.setItem(TOKEN_KEY, issued);
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
