// The signaling connection: one WebSocket speaking Parley protocol v1 (docs/protocol.md).
// UI-free: it turns frames into events and requests into promises. When the socket drops it
// reconnects by itself (exponential backoff with jitter) and resumes the session, so a network
// blip or a server restart does not end a call: media is peer to peer meanwhile.
import { ParleyError } from './errors.js';

export const PROTOCOL_VERSION = 1;

// Close codes after which reconnecting cannot help (docs/protocol.md, "Close codes").
const FINAL_CLOSE_CODES = new Set([4401, 4409]);
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 15_000;
// Messages sent while reconnecting wait for the resumed session (candidates, a hang-up). Kept
// well under the server's burst allowance (200), which a flush on resume must not trip.
const MAX_QUEUED_WHILE_AWAY = 120;

/**
 * Server → client messages, as docs/protocol.md ("Server → client messages") lists them.
 * `seq` numbers the messages a resume may replay; `id` echoes a request's.
 * @typedef {{seq?: number, id?: string | number | null}} Envelope
 * @typedef {{id: string, name: string}} UserInfo
 * @typedef {{candidate: string, sdpMid?: string | null, sdpMLineIndex?: number | null,
 *   usernameFragment?: string | null}} IceCandidate  as RTCIceCandidate.toJSON() makes it
 * @typedef {Envelope & {type: 'welcome', v: number, session: string, user: UserInfo,
 *   maxMessageBytes: number, iceServers: RTCIceServer[], iceTransportPolicy?: RTCIceTransportPolicy,
 *   token?: string | null, online?: UserInfo[] | null, onlineNext?: number | null,
 *   resume?: string | null, resumed?: boolean, resumeWindow?: number, instance?: string}} WelcomeMessage
 * @typedef {Envelope & {type: 'online', users: UserInfo[], next?: number | null}} OnlineMessage
 * @typedef {Envelope & {type: 'joined', room: string, created: boolean, capacity: number,
 *   peers: {id: string, ready: boolean}[]}} JoinedMessage
 * @typedef {Envelope & {type: 'peer-joined' | 'peer-ready', peer: string}} PeerMessage
 * @typedef {Envelope & {type: 'peer-left', peer: string, reason: 'disconnected' | 'left'}} PeerLeftMessage
 * @typedef {Envelope & {type: 'offer' | 'answer', from: string, sdp: string}} DescriptionMessage
 * @typedef {Envelope & {type: 'candidate', from: string, candidate: IceCandidate | null}} CandidateMessage
 * @typedef {Envelope & {type: 'media-state', from: string, muted?: boolean, cameraOff?: boolean,
 *   screen?: boolean}} MediaStateMessage
 * @typedef {Envelope & {type: 'video-request', from: string}} VideoRequestMessage
 * @typedef {Envelope & {type: 'video-reply', from: string, accepted: boolean}} VideoReplyMessage
 * @typedef {Envelope & {type: 'quality-saved'}} QualitySavedMessage
 * @typedef {Envelope & {type: 'left', room: string}} LeftMessage
 * @typedef {Envelope & {type: 'error', code: string, message: string}} ErrorMessage
 * @typedef {Envelope & {type: 'ice-servers', iceServers: RTCIceServer[],
 *   iceTransportPolicy: RTCIceTransportPolicy}} IceServersMessage
 * @typedef {Envelope & {type: 'presence', user: UserInfo, online: boolean}} PresenceMessage
 * @typedef {Envelope & {type: 'ringing', call: string, callee: UserInfo, media: 'audio' | 'video'}} RingingMessage
 * @typedef {Envelope & {type: 'incoming-call', call: string, caller: UserInfo, media: 'audio' | 'video',
 *   offer?: string | null}} IncomingCallMessage
 * @typedef {Envelope & {type: 'call-accepted', call: string, media: 'audio' | 'video', peer: string,
 *   polite: boolean, offer_taken?: boolean, answer?: string | null,
 *   answer_forwarded?: boolean, ticket?: string | null}} CallAcceptedMessage
 * @typedef {Envelope & {type: 'call-ended', call: string, reason: 'answered-elsewhere' | 'busy' |
 *   'cancelled' | 'connection-lost' | 'declined' | 'ended-by-app' | 'hangup' | 'no-answer' |
 *   'offline' | 'cannot-answer' | 'media-failed', by: string | null}} CallEndedMessage
 * @typedef {Envelope & {type: 'call-resumed', call: string, media: 'audio' | 'video',
 *   peer: string}} CallResumedMessage
 * @typedef {WelcomeMessage | JoinedMessage | PeerMessage | PeerLeftMessage | DescriptionMessage |
 *   CandidateMessage | MediaStateMessage | VideoRequestMessage | VideoReplyMessage |
 *   QualitySavedMessage | LeftMessage | ErrorMessage | IceServersMessage | PresenceMessage |
 *   RingingMessage | IncomingCallMessage | CallAcceptedMessage | CallEndedMessage |
 *   CallResumedMessage | OnlineMessage} ServerMessage
 */

/**
 * The `detail` of each event a Signaling dispatches, by event type (see Signaling).
 * @typedef {{
 *   'joined': JoinedMessage, 'peer-joined': PeerMessage, 'peer-ready': PeerMessage,
 *   'peer-left': PeerLeftMessage, 'offer': DescriptionMessage, 'answer': DescriptionMessage,
 *   'candidate': CandidateMessage, 'media-state': MediaStateMessage,
 *   'video-request': VideoRequestMessage, 'video-reply': VideoReplyMessage,
 *   'quality-saved': QualitySavedMessage, 'left': LeftMessage, 'error': ErrorMessage,
 *   'ice-servers': IceServersMessage, 'presence': PresenceMessage, 'ringing': RingingMessage,
 *   'incoming-call': IncomingCallMessage, 'call-accepted': CallAcceptedMessage,
 *   'call-ended': CallEndedMessage, 'call-resumed': CallResumedMessage,
 *   'reconnecting': {attempt: number, delay: number}, 'resumed': WelcomeMessage,
 *   'renewed': {welcome: WelcomeMessage, previousSession: string | null, restarted: boolean},
 *   'closed': {code: number, reason: string}
 * }} SignalingEvents
 */

/**
 * The `/ws` URL of the Parley server at `server` (an origin or any URL on it).
 * @param {string} server
 */
export function socketUrl(server) {
  const url = new URL('/ws', server);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

/**
 * Events: one per server message type (`peer-joined`, `offer`, …) with the message as `detail`;
 * `reconnecting` ({attempt, delay}) when the socket dropped and a new one is on its way;
 * `resumed` (the welcome) when the same session came back, its missed messages following;
 * `renewed` ({welcome, previousSession, restarted}) when the server no longer knew the session:
 * after a restart (`restarted`) the page re-announces itself and keeps its calls; otherwise the
 * session ended (the resume window passed) and its calls with it;
 * `closed` ({code, reason}) when the connection ended for good without `close()` being called.
 */
export class Signaling extends EventTarget {
  /**
   * @param {string} url
   * @param {{name?: string, token?: string | null, presence?: boolean}} [hello]  sent with hello
   */
  constructor(url, hello = {}) {
    super();
    this.url = url;
    this.hello = hello;
    /** @type {{id: string, name: string} | null} */
    this.user = null;
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {string | null} */
    this.sessionId = null;
    /** @type {RTCIceServer[]} */
    this.iceServers = [];
    /** @type {RTCIceTransportPolicy} */
    this.iceTransportPolicy = 'all';
    this.iceServersAt = 0;
    this.nextRequestId = 1;
    /** Requests awaiting their reply, by id (looked up by whatever id a message echoes).
     * @type {Map<string | number, {resolve: (m: ServerMessage) => void, reject: (e: Error) => void}>} */
    this.pending = new Map();
    this.closedByUs = false;
    /** @type {string | null} */
    this.resumeToken = null;
    this.lastSeq = 0;
    this.welcomed = false;
    this.reconnects = 0;
    this.instance = '';
    /** @type {number | null} */
    this.retryTimer = null;
    /** @type {object[]} */
    this.queued = [];
  }

  /** True while a welcomed socket is open. */
  get connected() {
    return this.welcomed && this.ws?.readyState === WebSocket.OPEN;
  }

  /** Opens the socket and completes hello → welcome. Resolves with the welcome message. If
   * this first attempt fails it rejects; once welcomed, later drops reconnect by themselves.
   * @returns {Promise<WelcomeMessage>} */
  connect() {
    return new Promise((resolve, reject) => this.#open(resolve, reject));
  }

  /**
   * @param {(welcome: WelcomeMessage) => void} [resolve]
   * @param {(error: Error) => void} [reject]
   */
  #open(resolve, reject) {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    this.welcomed = false;
    ws.addEventListener('open', () => {
      const { name, token, presence } = this.hello;
      /** @type {Record<string, unknown>} */
      const hello = { type: 'hello', v: PROTOCOL_VERSION, name: name ?? '', token: token ?? null, presence: !!presence };
      if (this.resumeToken) Object.assign(hello, { resume: this.resumeToken, lastSeq: this.lastSeq });
      ws.send(JSON.stringify(hello));
    });
    ws.addEventListener('message', (event) => {
      if (this.ws !== ws) return;
      /** @type {ServerMessage} */
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === 'welcome') {
        this.#welcome(message, resolve);
        resolve = undefined;
        reject = undefined;
        return;
      }
      if (typeof message.seq === 'number') {
        if (message.seq <= this.lastSeq) return; // already seen before a resume
        this.lastSeq = message.seq;
      }
      this.#dispatch(message);
    });
    ws.addEventListener('close', (event) => {
      if (this.ws !== ws) return; // an old socket, replaced by a reconnect
      console.debug('parley: signaling closed', event.code, event.reason);
      const code = event.code === 4401 ? 'auth-failed' : 'closed';
      const failure = new ParleyError(code, event.reason || `socket closed (${event.code})`);
      for (const { reject: fail } of this.pending.values()) fail(failure);
      this.pending.clear();
      this.welcomed = false;
      if (this.closedByUs) return;
      if (reject) {
        reject(failure); // the first connect failed: the page decides what to do
        return;
      }
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.dispatchEvent(new CustomEvent('closed', { detail: { code: event.code, reason: event.reason } }));
        return;
      }
      this.#reconnectLater();
    });
  }

  /** @param {WelcomeMessage} welcome @param {((welcome: WelcomeMessage) => void) | undefined} resolve */
  #welcome(welcome, resolve) {
    const previousSession = this.sessionId;
    const previousInstance = this.instance;
    this.instance = welcome.instance ?? '';
    console.debug('parley: welcome', welcome.resumed ? 'resumed' : 'new', 'session');
    this.welcomed = true;
    this.reconnects = 0;
    this.sessionId = welcome.session;
    this.user = welcome.user;
    this.resumeToken = welcome.resume ?? null;
    // A first-time guest is given its identity here: a resume must present the same one.
    if (welcome.token) this.hello = { ...this.hello, token: welcome.token };
    this.#takeIceServers(welcome);
    this.iceServersAt = 0; // a welcome carries no TURN credentials: ask when a call needs them
    // A new session numbers its messages from 1 again (docs/protocol.md, "Resuming"): whenever
    // the welcome is not a resume, what came before no longer counts, or the new session's
    // first messages (its `call-resumed` after a server restart) would be dropped as seen.
    if (!welcome.resumed) this.lastSeq = 0;
    if (resolve) {
      resolve(welcome);
      return;
    }
    const queued = this.queued;
    this.queued = [];
    if (welcome.resumed) {
      for (const message of queued) this.send(message);
      this.dispatchEvent(new CustomEvent('resumed', { detail: welcome }));
    } else {
      // A new session: what was queued was addressed to sessions that are gone.
      // Another server run forgot us (a restart: calls go on); the same run ended our session.
      const restarted = previousInstance !== this.instance;
      this.dispatchEvent(new CustomEvent('renewed', { detail: { welcome, previousSession, restarted } }));
    }
  }

  #reconnectLater() {
    if (this.retryTimer !== null || this.closedByUs) return;
    const attempt = ++this.reconnects;
    // Full jitter: after a server restart every client must not come back in the same instant.
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (attempt - 1));
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.dispatchEvent(new CustomEvent('reconnecting', { detail: { attempt, delay } }));
    this.retryTimer = window.setTimeout(() => {
      this.retryTimer = null;
      if (!this.closedByUs) this.#open();
    }, delay);
  }

  /** Drops the socket now and resumes on a new one (the network changed under us). */
  reconnectNow() {
    if (this.closedByUs || !this.resumeToken) return;
    const ws = this.ws;
    if (this.retryTimer !== null) {
      window.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.ws = null;
    this.welcomed = false;
    // 4000: not a goodbye, so the server keeps the session for our resume.
    ws?.close(4000, 'reconnecting');
    this.#open();
  }

  /** Sends now, or after the reconnect when the socket is down. @param {object} message */
  send(message) {
    if (this.connected) {
      /** @type {WebSocket} */ (this.ws).send(JSON.stringify(message));
    } else if (!this.closedByUs && this.resumeToken && this.queued.length < MAX_QUEUED_WHILE_AWAY) {
      this.queued.push(message);
    }
  }

  /**
   * Sends a message with a fresh `id`; resolves with the reply that echoes it, rejects with a
   * ParleyError when the server answers `error` (or the socket is down). The reply's type
   * depends on the request: the caller narrows it.
   * @param {object} message
   * @returns {Promise<ServerMessage>}
   */
  request(message) {
    const id = this.nextRequestId++;
    if (!this.connected) {
      return Promise.reject(new ParleyError('closed', 'not connected'));
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ ...message, id });
    });
  }

  /**
   * ICE servers for a connection about to be made. The server gives TURN credentials only to a
   * session in a room or a call, or about to call `to` (the welcome has none), and they expire
   * (an hour by default): so they are asked for when there are none yet, or after a while; if
   * that fails, the servers at hand are still tried.
   * @param {{to?: string}} [about]  the user this session is about to invite, if any
   * @returns {Promise<RTCConfiguration>}
   */
  async iceConfiguration(about = {}, maxAgeMs = 20 * 60 * 1000) {
    if (Date.now() - this.iceServersAt > maxAgeMs) {
      try {
        /** @type {{type: 'ice-servers', to?: string}} */
        const request = { type: 'ice-servers' };
        if (about.to) request.to = about.to;
        const reply = /** @type {IceServersMessage} */ (await this.request(request));
        this.#takeIceServers(reply);
        // Servers without TURN credentials (none configured, or none for this session yet)
        // are asked for again next time.
        this.iceServersAt = reply.iceServers.some((s) => s.credential) ? Date.now() : 0;
      } catch {
        // rate-limited or offline: fall through with what we have
      }
    }
    return { iceServers: this.iceServers, iceTransportPolicy: this.iceTransportPolicy };
  }

  /** @param {{iceServers?: RTCIceServer[], iceTransportPolicy?: RTCIceTransportPolicy}} message */
  #takeIceServers(message) {
    this.iceServers = message.iceServers ?? [];
    this.iceTransportPolicy = message.iceTransportPolicy ?? 'all';
  }

  /** Ends the session: a goodbye (1000), after which the server tells the others at once. */
  close() {
    this.closedByUs = true;
    if (this.retryTimer !== null) window.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.queued = [];
    this.ws?.close(1000, 'bye');
  }

  /** @param {ServerMessage} message */
  #dispatch(message) {
    const waiter = message.id != null ? this.pending.get(message.id) : undefined;
    if (waiter) {
      this.pending.delete(/** @type {string | number} */ (message.id)); // not null: it found a waiter
      if (message.type === 'error') waiter.reject(new ParleyError(message.code, message.message));
      else waiter.resolve(message);
      return;
    }
    this.dispatchEvent(new CustomEvent(message.type, { detail: message }));
  }
}
