// RoomCall: a call in a room (`/r/<room>`), shaped like Phone: join, the call with whoever else
// is in the room starts once both are ready, the same controls and events, and a clean end
// (hang-up, the peer leaving, the server lost). A dropped peer may come back: the room and our
// media stay. After a server restart both sides join again and the call goes on.
import { Signaling, socketUrl } from './signaling.js';
import { ParleyError } from './errors.js';
import { PeerCall } from './peer-call.js';
import { CallSession } from './session.js';
import { openLocalMedia, stopStream } from './capture.js';
import { defaultServer } from './phone.js';

/**
 * @typedef {import('./signaling.js').SignalingEvents} SignalingEvents
 * @typedef {import('./signaling.js').JoinedMessage} JoinedMessage
 * @typedef {'idle' | 'joining' | 'waiting' | 'accepted' | 'connected' | 'reconnecting' | 'ended'} RoomState
 * @typedef {{room: string, server?: string, token?: string | null}} RoomOptions
 */

export class RoomCall extends CallSession {
  /** @param {RoomOptions} options */
  constructor({ room, server, token }) {
    super();
    this.room = room;
    this.server = server ?? defaultServer();
    this.token = token ?? null;
    /** @type {RoomState} */
    this.state = 'idle';
    this.connectedOnce = false;
    /** @type {Signaling | null} */
    this.signaling = null;
    /** The other member: its session, and whether its media is up. @type {{id: string, ready: boolean} | null} */
    this.peer = null;
    // The server restarted and forgot the room: the peer comes back under a new session id.
    this.peerStale = false;
    this.inRoom = false;
    /** @type {MediaStream | null} */
    this.localStream = null;
    /** @type {PeerCall | null} */
    this.peerCall = null;
    /** @type {RTCConfiguration} */
    this.configuration = {};
    /** @type {number | null} */
    this.answeredAt = null;
    this.onNetworkChange = () => {
      this.signaling?.reconnectNow();
      this.peerCall?.networkChanged();
    };
  }

  eventCall() {
    return this;
  }

  /** This side's session (`by` of an ending names a session). */
  get sessionId() {
    return this.signaling?.sessionId ?? null;
  }

  /** Whether another member is in the room with us. */
  get hasPeer() {
    return this.peer !== null;
  }

  /** What the other member sends, once the call is up. */
  get remoteStream() {
    return this.peerCall?.remoteStream ?? null;
  }

  /** The call's RTCPeerConnection, once the call started (getStats, diagnostics). */
  get pc() {
    return this.peerCall?.pc ?? null;
  }

  /**
   * Joins the room with `stream` (default: camera and microphone for `media`, opened now). The
   * stream is the call's from then on: it is stopped when the call ends. Rejects with a
   * ParleyError: `room-full`, `closed` (no server), a media code, or the server's.
   * @param {{media?: 'audio' | 'video', stream?: MediaStream}} [options]
   */
  async join({ media = 'video', stream } = {}) {
    if (this.inRoom || this.state === 'joining') throw new ParleyError('busy', 'in the room already');
    this.state = 'joining';
    try {
      this.localStream = stream ?? (await this.#open(media));
      const signaling = await this.#signaling();
      const joined = /** @type {JoinedMessage} */ (await signaling.request({ type: 'join', room: this.room }));
      this.inRoom = true;
      const [first] = joined.peers;
      this.peer = first ? { id: first.id, ready: first.ready } : null;
      this.configuration = await signaling.iceConfiguration();
      signaling.send({ type: 'ready' });
      this.state = 'waiting';
      this.emit('joined', { call: this, room: this.room, peers: joined.peers.length });
      this.#maybeStart();
    } catch (error) {
      const known = error instanceof ParleyError;
      if (!known || error.code !== 'room-full') this.#closeSignaling();
      this.#release();
      this.state = 'idle';
      throw known ? error : new ParleyError('closed', String(error));
    }
  }

  /** Leaves the room: the call ends for both (`ended`, reason `hangup`). */
  hangup() {
    if (this.inRoom || this.localStream) this.#end('hangup', this.sessionId);
  }

  /** @override */
  mediaFailed() {
    if (this.inRoom) this.#end('media-failed', this.sessionId);
  }

  /** Leaves and closes the connection to the server. */
  close() {
    this.hangup();
    this.#closeSignaling();
  }

  /** Internals for diagnostics and tests; not part of the API, may change in any release. */
  get diagnostics() {
    return {
      sessionId: this.sessionId,
      lastSeq: this.signaling?.lastSeq ?? 0,
      connected: this.signaling?.connected ?? false,
      peerSession: this.peerCall?.peerId ?? null,
      iceRestarts: this.peerCall?.iceRestarts ?? 0,
      openedTracks: this.openedTracks,
      timers: this.live?.timerCount ?? 0,
      stats: this.live?.stats.latest ?? null,
      inRoom: this.inRoom,
      dropConnection: () => this.signaling?.ws?.close(4000, 'dropped'),
    };
  }

  /** @param {'audio' | 'video'} media */
  async #open(media) {
    const stream = await openLocalMedia(media);
    this.openedTracks.push(...stream.getTracks());
    return stream;
  }

  /** The room's connection, connected (one per RoomCall: a second would join again). */
  async #signaling() {
    if (this.signaling?.connected) return this.signaling;
    this.signaling?.close();
    const signaling = new Signaling(socketUrl(this.server), { token: this.token });
    this.signaling = signaling;
    this.#wire(signaling);
    window.addEventListener('online', this.onNetworkChange);
    await signaling.connect();
    return signaling;
  }

  #closeSignaling() {
    window.removeEventListener('online', this.onNetworkChange);
    this.signaling?.close();
    this.signaling = null;
  }

  /** Starts the call if both sides are ready. */
  #maybeStart() {
    if (this.peerCall) return this.peerCall;
    const signaling = this.signaling;
    if (!signaling || !this.inRoom || !this.peer?.ready || !this.localStream) return null;
    const peerCall = new PeerCall({
      send: (message) => signaling.send(message),
      peerId: this.peer.id,
      polite: /** @type {string} */ (signaling.sessionId) < this.peer.id,
      localStream: this.localStream,
      configuration: this.configuration,
    });
    peerCall.addEventListener('error', (event) => {
      console.warn('negotiation error', /** @type {CustomEvent<unknown>} */ (event).detail);
    });
    this.peerCall = peerCall;
    this.state = 'accepted';
    this.answeredAt ??= Date.now();
    this.startLive(peerCall, (message) => this.signaling?.send({ ...message, to: peerCall.peerId }));
    this.emit('accepted', { call: this });
    this.follow(peerCall, this);
    peerCall.start();
    return peerCall;
  }

  /** Closes the connection to the peer (the room and our media stay). */
  #dropPeerCall() {
    this.peerStale = false;
    // The connection's summary, stored for this room session (the server checks we are in it).
    const summary = this.stopLive();
    if (summary && this.inRoom) this.signaling?.send({ type: 'quality', ...summary });
    this.peerCall?.close();
    this.peerCall = null;
    this.connectedOnce = false;
  }

  /**
   * The call is over here: connection, tracks and timers all go; the socket stays (for a next
   * join) unless the server is lost. @param {'hangup' | 'connection-lost' | 'media-failed'} reason
   * @param {string | null} by  the session that ended it @param {unknown} [error]
   */
  #end(reason, by, error) {
    this.#dropPeerCall();
    // Leave on either side's hang-up, so the room is free and a next join can have it.
    if (this.inRoom && (reason === 'hangup' || reason === 'media-failed')) this.signaling?.send({ type: 'leave' });
    this.inRoom = false;
    this.peer = null;
    this.#release();
    if (reason === 'connection-lost') this.#closeSignaling();
    const duration = this.answeredAt === null ? null : Math.round((Date.now() - this.answeredAt) / 1000);
    this.answeredAt = null;
    this.state = 'ended';
    this.emit('ended', { call: this, reason, by, duration, error: error ?? null });
  }

  #release() {
    stopStream(this.localStream);
    for (const track of this.openedTracks) track.stop();
    this.localStream = null;
  }

  /** @param {Signaling} signaling */
  #wire(signaling) {
    /**
     * @template {keyof SignalingEvents} K
     * @param {K} type @param {(detail: SignalingEvents[K]) => void} handler
     */
    const on = (type, handler) =>
      signaling.addEventListener(type, (event) => {
        if (this.signaling === signaling) handler(/** @type {CustomEvent<SignalingEvents[K]>} */ (event).detail);
      });
    on('peer-joined', ({ peer }) => {
      if (this.peer && this.peerStale) return this.#adoptReturningPeer(peer);
      if (this.peer) return; // a 1:1 call: a further member waits its turn
      this.peer = { id: peer, ready: false };
      this.emit('peerjoined', { call: this, peer });
    });
    on('peer-ready', ({ peer }) => {
      if (this.peer?.id !== peer) return;
      this.peer.ready = true;
      this.#maybeStart();
    });
    on('peer-left', ({ peer, reason }) => this.#peerLeft(peer, reason));
    for (const type of /** @type {const} */ (['offer', 'answer'])) {
      on(type, ({ from, sdp }) => this.#callFrom(from)?.acceptDescription({ type, sdp }));
    }
    on('candidate', ({ from, candidate }) => this.#callFrom(from)?.acceptCandidate(candidate));
    for (const type of /** @type {const} */ (['media-state', 'video-request', 'video-reply'])) {
      on(type, (detail) => {
        if (this.peerCall && this.peerCall.peerId === detail.from) this.live?.receive(type, detail);
      });
    }
    on('reconnecting', () => this.emit('connection', { state: 'reconnecting', error: null }));
    on('resumed', () => this.emit('connection', { state: 'connected', error: null }));
    on('renewed', ({ restarted }) => this.#renewed(signaling, restarted));
    on('closed', () => {
      if (this.inRoom) this.#end('connection-lost', null, new ParleyError('closed', 'the server closed the connection'));
    });
  }

  /** @param {string} peer @param {'disconnected' | 'left'} reason */
  #peerLeft(peer, reason) {
    if (this.peer?.id !== peer) return;
    if (reason === 'left') {
      this.#end('hangup', peer);
      return;
    }
    // A dropped peer may come back: keep our media and the room, drop only the connection.
    this.#dropPeerCall();
    this.peer = null;
    this.state = 'waiting';
    this.emit('peerleft', { call: this, peer, reason });
  }

  /** @param {Signaling} signaling @param {boolean} restarted */
  #renewed(signaling, restarted) {
    this.emit('connection', { state: 'connected', error: null });
    if (!this.inRoom) return;
    if (!restarted) {
      // Our session ended while we were away, and the peer was told we left: start afresh.
      this.#dropPeerCall();
      this.peer = null;
    }
    this.#rejoin(signaling);
  }

  /** The server restarted and forgot us: join the room again, keeping the call. The peer does
   * the same, under a new session id, and negotiation goes on with that id.
   * @param {Signaling} signaling */
  async #rejoin(signaling) {
    this.peerStale = this.peer !== null;
    try {
      const joined = /** @type {JoinedMessage} */ (await signaling.request({ type: 'join', room: this.room }));
      const [first] = joined.peers;
      if (first) this.#adoptReturningPeer(first.id, first.ready);
      signaling.send({ type: 'ready' });
      this.emit('rejoined', { call: this });
      this.#maybeStart();
    } catch (error) {
      this.#end('connection-lost', null, error);
    }
  }

  /** @param {string} sessionId @param {boolean} [ready] */
  #adoptReturningPeer(sessionId, ready = false) {
    if (!this.peer) {
      this.peer = { id: sessionId, ready };
      return;
    }
    this.peer.id = sessionId;
    this.peerStale = false;
    if (this.peerCall) this.peerCall.peerId = sessionId;
  }

  /** The call a relayed message belongs to; a message from anyone else is dropped. @param {string} sessionId */
  #callFrom(sessionId) {
    if (!this.peer || this.peer.id !== sessionId || !this.inRoom) return null;
    if (this.peerCall && this.peerCall.peerId !== sessionId) return null;
    this.peer.ready = true; // it is negotiating with us, so its media is up
    return this.#maybeStart();
  }
}
