// The postMessage API of a page framed by a host app (docs/sdk.md, "Embedding"). Only the
// server's --allowed-origins may frame the pages (CSP frame-ancestors); the page knows them from
// its <meta name="parley-embedders">, and checks origins both ways:
// - a command is taken only from the frame's own parent, whose origin is one of them;
// - events go only to that origin (postMessage's targetOrigin), never to '*'.
// Messages are plain objects with `type: 'parley'`: the host sends `command` (token, call,
// hangup, mute; and hello, which only names the host), the page sends `event` (ready,
// signed-in, incoming, ringing, accepted, ended).
import { framed } from './identity.js';

/**
 * @typedef {{command: 'token', token: string} | {command: 'call', user: string, media: 'audio' | 'video'} |
 *   {command: 'hangup'} | {command: 'mute', muted?: boolean} | {command: 'hello'}} Command
 */

/** The origins that may frame this server's pages (written into the page by the server). */
function embedders() {
  const meta = /** @type {HTMLMetaElement | null} */ (document.querySelector('meta[name="parley-embedders"]'));
  return (meta?.content ?? '').split(/\s+/).filter(Boolean);
}

/**
 * The host's origin as the browser tells it (Chromium and Safari), if it may frame us. Where
 * the browser does not tell (Firefox), the host's first command names it.
 * @param {string[]} allowed
 */
function parentOrigin(allowed) {
  const origin = location.ancestorOrigins?.[0];
  return origin && allowed.includes(origin) ? origin : null;
}

/** @param {unknown} data @returns {Command | null} */
function parseCommand(data) {
  if (!data || typeof data !== 'object') return null;
  const message = /** @type {Record<string, unknown>} */ (data);
  if (message.type !== 'parley') return null;
  const { command } = message;
  if (command === 'token' && typeof message.token === 'string') return { command, token: message.token };
  if (command === 'call' && typeof message.user === 'string' && message.user.length > 0 && message.user.length <= 64) {
    return { command, user: message.user, media: message.media === 'audio' ? 'audio' : 'video' };
  }
  if (command === 'hangup' || command === 'hello') return { command };
  if (command === 'mute') return { command, muted: typeof message.muted === 'boolean' ? message.muted : undefined };
  return null;
}

export class Embedding {
  /** @param {(command: Command) => void} onCommand */
  constructor(onCommand) {
    this.allowed = framed ? embedders() : [];
    /** @type {string | null} */
    this.hostOrigin = framed ? parentOrigin(this.allowed) : null;
    if (!framed) return;
    window.addEventListener('message', (event) => {
      if (event.source !== window.parent || !this.allowed.includes(event.origin)) return;
      if (this.hostOrigin !== null && event.origin !== this.hostOrigin) return;
      const command = parseCommand(event.data);
      if (!command) return;
      const greeted = this.hostOrigin === null;
      this.hostOrigin = event.origin;
      if (greeted) this.post('ready', {});
      onCommand(command);
    });
  }

  /** Tells the host app, if this page is framed by one. @param {string} event @param {object} data */
  post(event, data) {
    if (this.hostOrigin === null) return;
    window.parent.postMessage({ type: 'parley', event, ...data }, this.hostOrigin);
  }
}
