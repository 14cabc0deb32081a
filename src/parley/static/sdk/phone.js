// Phone: one person's line to a Parley server for direct calls. It signs in (a host app's JWT,
// or a guest), keeps the list of who is online, places and answers calls, and keeps them up
// through dropped sockets (resume), server restarts (`resume-call`) and network changes (ICE
// restart). Everything it knows it tells as events (docs/sdk.md lists them, in order).
// dialing.js places calls, answering.js answers them, direct-call.js starts and ends them.
import { Signaling, socketUrl } from './signaling.js';
import { ParleyError } from './errors.js';
import { CallSession } from './session.js';
import { DirectCall, finishCall, onCallEnded, startMedia } from './direct-call.js';
import { cancelCall, dial, hangUp, prepareConnection } from './dialing.js';
import { accept, onIncoming, reject } from './answering.js';

/**
 * @typedef {import('./signaling.js').SignalingEvents} SignalingEvents
 * @typedef {import('./signaling.js').WelcomeMessage} WelcomeMessage
 * @typedef {import('./signaling.js').OnlineMessage} OnlineMessage
 * @typedef {import('./signaling.js').UserInfo} User
 * @typedef {'idle' | 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'closed'} LinkState
 * @typedef {{server?: string, token?: string | null, name?: string, presence?: boolean,
 *   previewWhileRinging?: boolean}} PhoneOptions
 */

const RESUME_CALL_ID = 'resume-call';
// A new connection after a final close or a failed first one: 1 s, doubling, at most 30 s.
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;
// Up to ten pages of people online (100 each) are fetched: more than a list can show anyway.
const ONLINE_PAGES = 10;

/** The origin of the Parley server this module was loaded from. */
export function defaultServer() {
  return new URL(import.meta.url).origin;
}

export class Phone extends CallSession {
  /** @param {PhoneOptions} [options] */
  constructor(options = {}) {
    super();
    this.server = options.server ?? defaultServer();
    /** The identity to sign in with: a host app's JWT, a guest token, or none (a new guest). */
    this.token = options.token ?? null;
    this.name = options.name ?? '';
    this.presence = options.presence ?? true;
    this.previewWhileRinging = options.previewWhileRinging ?? true;
    /** @type {LinkState} */
    this.state = 'idle';
    /** @type {User | null} */
    this.user = null;
    /** @type {Signaling | null} */
    this.signaling = null;
    /** @type {Map<string, User>} */
    this.people = new Map();
    /** The call placed or answered. @type {DirectCall | null} */
    this.current = null;
    /** The call ringing here. @type {DirectCall | null} */
    this.ringing = null;
    this.retryDelay = RETRY_FIRST_MS;
    /** @type {number | null} */
    this.retryTimer = null;
    /** @type {{resolve: (user: User) => void, reject: (error: Error) => void} | null} */
    this.waiting = null;
    /** @type {Promise<User> | null} */
    this.connecting = null;
    this.onNetworkChange = () => this.#networkChanged();
  }

  /** Who is online for calls (not this user), by name. */
  get online() {
    return [...this.people.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The call going on: placed, ringing here, or answered; null if none. */
  get activeCall() {
    return this.current ?? (this.ringing && !this.ringing.glare ? this.ringing : null);
  }

  eventCall() {
    return this.activeCall;
  }

  /** Signs in; resolves with the user once the server welcomed us. A failed first attempt is
   * tried again by itself (`connection` events say so); a refused token rejects (`auth-failed`).
   * @returns {Promise<User>} */
  connect() {
    if (this.state === 'closed') return Promise.reject(new ParleyError('closed', 'this Phone was closed'));
    if (this.state === 'connected' && this.user) return Promise.resolve(this.user);
    this.connecting ??= new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
    if (this.state === 'idle' || this.state === 'failed') {
      window.addEventListener('online', this.onNetworkChange);
      this.#open();
    }
    return this.connecting;
  }

  /** Ends any call and signs out; the Phone is done (make a new one to sign in again). */
  close() {
    if (this.state === 'closed') return;
    finishCall(this, { reason: 'hangup', by: this.user?.id ?? null });
    this.#setState('closed');
    window.removeEventListener('online', this.onNetworkChange);
    if (this.retryTimer !== null) window.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const signaling = this.signaling;
    this.signaling = null;
    signaling?.close();
    this.#settle(new ParleyError('closed', 'this Phone was closed'));
  }

  /** A fresh token for the next sign-in (the host app renews an expiring JWT). @param {string} token */
  setToken(token) {
    this.token = token;
    if (this.signaling) this.signaling.hello = { ...this.signaling.hello, token };
  }

  /**
   * Calls `user` (an id, or a user from `online`): `calling`, then `ringing`, `accepted` and
   * `connected`, or `ended` with why.
   * @param {string | User} user @param {{media?: 'audio' | 'video'}} [options]
   */
  call(user, { media = 'video' } = {}) {
    if (!this.signaling || !this.user) throw new ParleyError('not-connected', 'connect() first');
    if (this.current || this.ringing) throw new ParleyError('busy', 'a call is going on already');
    const peer = typeof user === 'string' ? (this.people.get(user) ?? { id: user, name: '' }) : user;
    const call = new DirectCall({ id: null, role: 'caller', peer, media });
    this.current = call;
    this.emit('calling', { call });
    dial(this, call);
    return call;
  }

  /** Answers the call ringing here. @param {{media?: 'audio' | 'video'}} [options]  default: the call's */
  accept({ media } = {}) {
    const ringing = this.activeCall === this.ringing ? this.ringing : null;
    if (ringing) accept(this, media ?? ringing.media);
  }

  /** Declines the call ringing here. */
  reject() {
    reject(this);
  }

  /** Stops a call placed from here that is not answered yet. */
  cancel() {
    cancelCall(this);
  }

  /** Ends the call: hangs up an answered one, cancels one placed, declines one ringing here. */
  hangup() {
    if (this.current) hangUp(this);
    else reject(this);
  }

  /** @override */
  mediaFailed() {
    if (this.current) hangUp(this, 'media-failed');
  }

  /** Internals for diagnostics and tests; not part of the API, may change in any release. */
  get diagnostics() {
    const call = this.current;
    const prepared = call?.prepared ?? this.ringing?.answer?.peerCall ?? null;
    return {
      sessionId: this.signaling?.sessionId ?? null,
      lastSeq: this.signaling?.lastSeq ?? 0,
      connected: this.signaling?.connected ?? false,
      peerSession: call?.peerCall?.peerId ?? null,
      iceRestarts: call?.peerCall?.iceRestarts ?? 0,
      prepared: prepared && {
        signalingState: prepared.pc.signalingState,
        iceGatheringState: prepared.pc.iceGatheringState,
        unsent: prepared.unsent.map((message) => message.type),
      },
      openedTracks: this.openedTracks,
      timers: this.live?.timerCount ?? 0,
      stats: this.live?.stats.latest ?? null,
      /** The socket dies under us (not a goodbye), as on a network blip. */
      dropConnection: () => this.signaling?.ws?.close(4000, 'dropped'),
    };
  }

  // --- the connection ---------------------------------------------------------------------

  async #open() {
    this.#setState('connecting');
    const signaling = new Signaling(socketUrl(this.server), { name: this.name, token: this.token, presence: this.presence });
    this.signaling = signaling;
    this.#wire(signaling);
    let welcome;
    try {
      welcome = await signaling.connect();
    } catch (error) {
      if (this.signaling !== signaling) return;
      if (error instanceof ParleyError && error.code === 'auth-failed') {
        // Retrying the same token cannot help: the host app has to issue a new one.
        this.signaling = null;
        this.#setState('failed', error);
        this.#settle(error);
        return;
      }
      this.#reconnectLater();
      return;
    }
    if (this.signaling !== signaling) return;
    this.retryDelay = RETRY_FIRST_MS;
    this.#welcomed(welcome);
    this.waiting?.resolve(welcome.user);
    this.waiting = null;
    this.connecting = null;
  }

  /** @param {LinkState} state @param {Error} [error] */
  #setState(state, error) {
    this.state = state;
    this.emit('connection', { state, error: error ?? null });
  }

  /** @param {Error} error */
  #settle(error) {
    this.waiting?.reject(error);
    this.waiting = null;
    this.connecting = null;
  }

  /** @param {WelcomeMessage} welcome */
  #welcomed(welcome) {
    if (welcome.token) this.token = welcome.token; // a new guest's: who we are next time
    this.user = welcome.user;
    this.people = new Map((welcome.online ?? []).filter((u) => u.id !== welcome.user.id).map((u) => [u.id, u]));
    this.#setState('connected');
    this.emit('ready', { user: welcome.user, online: this.online, token: welcome.token ?? null });
    if (this.signaling) this.#loadMoreOnline(this.signaling, welcome.onlineNext);
  }

  /** The server went away for good (a final close, or no first connection): end any call, and
   * try again with growing pauses. */
  #reconnectLater() {
    finishCall(this, { reason: 'connection-lost', by: null });
    this.signaling = null;
    this.#setState('reconnecting');
    if (this.retryTimer !== null) return;
    this.retryTimer = window.setTimeout(() => {
      this.retryTimer = null;
      if (this.state !== 'closed') this.#open();
    }, this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
  }

  /**
   * The server restarted and forgot this session: sign in again, and take an answered call back
   * (the other side does the same) instead of dropping it.
   * @param {WelcomeMessage} welcome @param {boolean} restarted
   */
  #renewed(welcome, restarted) {
    this.#welcomed(welcome);
    const call = this.current;
    if (call?.peerCall && call.id && call.ticket && restarted) {
      this.signaling?.send({
        type: 'resume-call',
        id: RESUME_CALL_ID,
        call: call.id,
        peer: call.peer.id,
        role: call.role,
        media: call.media,
        ticket: call.ticket,
      });
      return;
    }
    // A call still ringing was lost with a restarted server's memory of it; after our own
    // session ended (same server), the call ended with it.
    if (call || this.ringing) finishCall(this, { reason: 'connection-lost', by: null });
  }

  /** Most of 1,000 people online is more than a list can show: the welcome's first page, and
   * then up to nine more (100 each) as the server hands them out.
   * @param {Signaling} signaling @param {number | null | undefined} offset */
  async #loadMoreOnline(signaling, offset) {
    for (let pages = 1; offset != null && pages < ONLINE_PAGES && this.signaling === signaling; pages += 1) {
      /** @type {OnlineMessage} */
      let page;
      try {
        page = /** @type {OnlineMessage} */ (await signaling.request({ type: 'online', offset }));
      } catch {
        return; // rate-limited or offline: the list holds what it has
      }
      for (const user of page.users) if (user.id !== this.user?.id) this.people.set(user.id, user);
      this.emit('presence', { online: this.online, change: null });
      offset = page.next;
    }
  }

  /** The network changed (Wi-Fi back, another network): both paths may be stale. */
  #networkChanged() {
    this.signaling?.reconnectNow();
    this.current?.peerCall?.networkChanged();
    const call = this.current;
    if (call?.prepared && call.role === 'caller') {
      // Still ringing: the candidates gathered for the answer belong to the old network.
      if (call.invitedOffer) {
        // The callee may be answering the offer that rode the invite: it stays, and ICE
        // restarts (new candidates) the moment the answer has come.
        call.prepared.pc.restartIce();
      } else {
        call.prepared.close();
        call.prepared = null;
        prepareConnection(this, call);
      }
    }
  }

  /** @param {string} sessionId */
  #peerCallFrom(sessionId) {
    const peerCall = this.current?.peerCall;
    return peerCall && peerCall.peerId === sessionId ? peerCall : null;
  }

  /** What the server sends, each to where it belongs. @param {Signaling} signaling */
  #wire(signaling) {
    /**
     * Events of a connection that has since been replaced are ignored.
     * @template {keyof SignalingEvents} K
     * @param {K} type @param {(detail: SignalingEvents[K]) => void} handler
     */
    const on = (type, handler) =>
      signaling.addEventListener(type, (event) => {
        if (this.signaling === signaling) handler(/** @type {CustomEvent<SignalingEvents[K]>} */ (event).detail);
      });
    on('presence', ({ user, online }) => {
      if (user.id === this.user?.id) return;
      if (online) this.people.set(user.id, user);
      else this.people.delete(user.id);
      this.emit('presence', { online: this.online, change: { user, online } });
    });
    on('incoming-call', (detail) => onIncoming(this, detail));
    on('call-accepted', (detail) => {
      if (this.current?.id === detail.call) startMedia(this, this.current, detail);
    });
    on('call-ended', (detail) => onCallEnded(this, detail));
    on('call-resumed', (detail) => {
      const call = this.current;
      if (!call?.peerCall || call.id !== detail.call) return;
      call.peerCall.peerId = detail.peer; // the other side's new session, after a server restart
      this.emit('resumed', { call });
    });
    on('error', (detail) => {
      if (detail.id === RESUME_CALL_ID && this.current) finishCall(this, { reason: 'connection-lost', by: null });
    });
    on('reconnecting', () => this.#setState('reconnecting'));
    on('resumed', () => this.#setState('connected'));
    on('renewed', ({ welcome, restarted }) => this.#renewed(welcome, restarted));
    for (const type of /** @type {const} */ (['offer', 'answer'])) {
      on(type, ({ from, sdp }) => this.#peerCallFrom(from)?.acceptDescription({ type, sdp }));
    }
    on('candidate', ({ from, candidate }) => this.#peerCallFrom(from)?.acceptCandidate(candidate));
    for (const type of /** @type {const} */ (['media-state', 'video-request', 'video-reply'])) {
      on(type, (detail) => {
        if (this.#peerCallFrom(detail.from)) this.live?.receive(type, detail);
      });
    }
    // Only a final close comes here (auth failed, taken over): start again with a new session.
    on('closed', () => this.#reconnectLater());
  }
}
