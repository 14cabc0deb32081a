// One RTCPeerConnection to one peer, negotiated with the "perfect negotiation" pattern: both
// sides may offer at any time; on a collision the polite side yields and the impolite side
// ignores the other's offer. Candidates trickle as they are found.
//
// The first exchange is made collision-free on purpose: the impolite side offers first and the
// polite side adds its tracks when that offer arrives. Chromium's ICE agent was seen to stop
// gathering for good when the implicit rollback hit an offer still being set locally.
//
// When the path breaks, ICE is restarted. One rule, reached by both sides from the two
// descriptions, names the side that restarts (`restarter`): the Firefox side when exactly one
// side is Firefox, else the impolite side. The other restarts only as a fallback, if no restart
// offer came meanwhile, and never toward Firefox: a restart Chromium starts toward Firefox
// leaves Firefox receiving nothing (Chromium sends to a port of the previous ICE generation),
// and when Firefox made the first offer, Chromium refuses the DTLS role its answer asks for.
// Firefox restarts only once it has a network again (engines.js hasNetwork).
import { hasNetwork, madeByFirefox, setSending } from './engines.js';
import { watchGathering } from './media-watch.js';
import { sameCandidate } from './sdp.js';

// How long ICE may stay `disconnected` before a restart (it often recovers by itself).
const RESTART_AFTER_DISCONNECTED_MS = { restarter: 2500, other: 6000 };
const OTHER_RESTART_AFTER_FAILED_MS = 4000;
// After a network change here, how long the other side waits for the restarter's offer (the
// restarter's ICE notices the change too: `disconnected`, then a restart after the delay above).
const OTHER_RESTART_AFTER_NETWORK_CHANGE_MS = 10_000;
// A restart made while the network was still down finds no path: try again, less and less often.
const RESTART_RETRY_FIRST_MS = 5000;
const RESTART_RETRY_MAX_MS = 20_000;

/**
 * What this side sends its peer (without `to`): a description, or a trickled candidate (null:
 * gathering is over). RTCIceCandidate.toJSON() always names the candidate line.
 * @typedef {{type: RTCSdpType, sdp: string}} OutgoingDescription
 * @typedef {RTCIceCandidateInit & {candidate: string}} OutgoingIceCandidate
 * @typedef {{type: 'candidate', candidate: OutgoingIceCandidate | null}} OutgoingCandidate
 * @typedef {OutgoingDescription | OutgoingCandidate} OutgoingMessage
 * `stopped` is the older transceiver API (now `currentDirection === 'stopped'`); undefined where
 * the browser no longer has it.
 * @typedef {RTCRtpTransceiver & {readonly stopped?: boolean}} Transceiver
 */

/**
 * Events: `track` (detail: the remote MediaStream), `state` (detail: connectionState),
 * `restarting` (an ICE restart began), `local-ready` (localStream holds the tracks to send),
 * `error` (detail: Error).
 * @typedef {{track: MediaStream, state: RTCPeerConnectionState, restarting: null, 'local-ready': null,
 *   error: unknown}} PeerCallEvents  the `detail` of each event, by type
 */
export class PeerCall extends EventTarget {
  /** @type {(sdp: string) => void} */
  #offerHeld = () => {};
  /** @type {() => void} */
  #closedNow = () => {};
  /** Settles on close(): what waits for the tracks stops waiting. */
  #whenClosed = new Promise((resolve) => {
    this.#closedNow = () => resolve(undefined);
  });

  /**
   * @param {object} options
   * @param {(message: object) => void} options.send  sends a protocol message
   * @param {string | null} options.peerId  the other member's session id; null while it is not
   *   known yet (a call still ringing): what this side sends waits until connectTo() names it
   * @param {boolean} options.polite  true on exactly one of the two sides
   * @param {MediaStream} options.localStream
   * @param {RTCConfiguration} options.configuration  ICE servers and transport policy
   * @param {Promise<unknown>} [options.tracksReady]  settles once localStream holds the tracks to
   *   send: until then an offer may be taken in, but our answer (or first offer) waits for it
   */
  constructor({ send, peerId, polite, localStream, configuration, tracksReady = Promise.resolve() }) {
    super();
    this.send = send;
    this.peerId = peerId;
    /** @type {OutgoingMessage[]} */
    this.unsent = [];
    /** The SDP of the first offer made while the peer is not known yet (held in `unsent`).
     * @type {Promise<string>} */
    this.heldOffer = new Promise((resolve) => {
      this.#offerHeld = resolve;
    });
    this.polite = polite;
    this.localStream = localStream;
    this.tracksReady = tracksReady;
    this.localReady = false;
    tracksReady.then(() => {
      this.localReady = true;
      this.dispatchEvent(new CustomEvent('local-ready'));
    });
    this.remoteStream = new MediaStream();
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.settingRemoteAnswer = false;
    this.closed = false;
    this.tracksAdded = false;
    this.iceRestarts = 0;
    this.restartsInARow = 0;
    this.lastRemoteOfferAt = 0;
    this.offersTaken = 0;
    /** Whether the peer's descriptions come from Firefox: read from the SDP as it arrives, since
     * Chromium's `remoteDescription` writes every origin line as its own (`o=- …`). */
    this.peerIsFirefox = false;
    /** @type {number | null} */
    this.restartTimer = null;
    this.pc = new RTCPeerConnection(configuration);
    this.gathering = watchGathering(this.pc);
    this.#wire();
  }

  /** Starts an ICE restart: new credentials, new candidates, same call. */
  async restartIce() {
    if (this.closed) return;
    // Firefox restarts only with a network to gather on (engines.js): until then, look each second.
    if (madeByFirefox(this.pc.localDescription?.sdp) && !(await hasNetwork())) {
      console.debug('parley: no network to restart ICE on yet');
      this.#restartLater(1000);
      return;
    }
    if (this.closed) return;
    this.#clearRestartTimer();
    this.iceRestarts += 1;
    this.restartsInARow += 1;
    console.debug('parley: ICE restart', this.iceRestarts);
    this.dispatchEvent(new CustomEvent('restarting'));
    this.pc.restartIce(); // negotiationneeded follows: perfect negotiation sends the offer
    const retry = Math.min(RESTART_RETRY_MAX_MS, RESTART_RETRY_FIRST_MS * 2 ** (this.restartsInARow - 1));
    this.#restartLater(retry);
  }

  /** Whether this side starts ICE restarts (see the top of this file): both sides reach the same
   * answer once an offer and its answer have been exchanged, and exactly one is the restarter. */
  get restarter() {
    const here = madeByFirefox(this.pc.localDescription?.sdp);
    return here === this.peerIsFirefox ? !this.polite : here;
  }

  /** The network changed here (the page's `online` event): the restarter restarts now; the
   * other side waits for its offer, and restarts only if none comes. */
  networkChanged() {
    if (this.closed) return;
    if (this.restarter) this.restartIce();
    else this.#restartLater(OTHER_RESTART_AFTER_NETWORK_CHANGE_MS);
  }

  /** Media stopped though ICE says connected (media-watch.js): recover as from a failure. */
  mediaStalled() {
    if (this.closed) return;
    if (this.restarter) this.restartIce();
    else this.#restartLater(OTHER_RESTART_AFTER_FAILED_MS, true);
  }

  /** The impolite side adds its tracks now (then offers); the polite side waits for that offer. */
  start() {
    if (!this.polite) this.tracksReady.then(() => this.#addLocalTracks());
  }

  /** The other side is known now: what waited for it (an offer made while the call rang, the
   * candidates found since, or an answer made while ringing or at the click) goes out, in the
   * order it was made; but not the description `delivered` already (an offer that rode the
   * invite, an answer that rode the accept), nor a candidate `listed` in what was delivered.
   * @param {string} peerId @param {string | null} [delivered]  the SDP of that description, as held
   * @param {string} [listed]  the SDP as delivered, with the candidates gathered by then
   */
  connectTo(peerId, delivered = null, listed = '') {
    this.peerId = peerId;
    const inListed = new Set(
      listed
        .split('\r\n')
        .filter((line) => line.startsWith('a=candidate:'))
        .map((line) => sameCandidate(line.slice(2))),
    );
    for (const message of this.unsent.splice(0)) {
      // Either kind: a description has `sdp`, a candidate message `candidate`.
      const held = /** @type {{sdp?: string, candidate?: OutgoingIceCandidate | null}} */ (message);
      if (delivered !== null && held.sdp === delivered) continue;
      if (held.candidate && inListed.has(sameCandidate(held.candidate.candidate))) continue;
      this.send({ ...message, to: peerId });
    }
  }

  /** The SDP of the answer held for the peer not known yet (see connectTo), if one is held. */
  heldAnswer() {
    const answer = this.unsent.find((message) => message.type === 'answer');
    const held = /** @type {OutgoingDescription | undefined} */ (answer);
    return held ? held.sdp : null;
  }

  /** The transceiver that carries (or carried) our `kind` media, if any. @param {'audio' | 'video'} kind */
  transceiver(kind) {
    const transceivers = /** @type {Transceiver[]} */ (this.pc.getTransceivers());
    return transceivers.find((t) => !t.stopped && t.receiver.track.kind === kind) ?? null;
  }

  /** What we send of `kind` now (null: nothing, e.g. camera off). @param {'audio' | 'video'} kind */
  sentTrack(kind) {
    return this.transceiver(kind)?.sender.track ?? null;
  }

  /** Sends `track` instead of what is sent now: a device switch, camera off (null), a screen.
   * replaceTrack needs no renegotiation, so the other direction never pauses. Returns false when
   * there is no such media in the call yet (then use addTrack).
   * @param {'audio' | 'video'} kind @param {MediaStreamTrack | null} track
   */
  async replaceTrack(kind, track) {
    const transceiver = this.transceiver(kind);
    if (!transceiver || !transceiver.currentDirection?.includes('send')) return false;
    // Without a track Firefox still re-sends the last frame about once a second: an inactive
    // encoding sends nothing in every engine. Off before the track goes, on once the new is in.
    if (!track) await setSending(transceiver.sender, false);
    await transceiver.sender.replaceTrack(track);
    if (track) await setSending(transceiver.sender, true);
    for (const old of this.localStream.getTracks()) {
      if (old.kind === kind && old !== track) this.localStream.removeTrack(old);
    }
    if (track && !this.localStream.getTracks().includes(track)) this.localStream.addTrack(track);
    return true;
  }

  /** Adds media the call lacks (video in a voice call): a renegotiation. @param {MediaStreamTrack} track */
  addTrack(track) {
    this.localStream.addTrack(track);
    this.tracksAdded = true;
    const transceivers = /** @type {Transceiver[]} */ (this.pc.getTransceivers());
    const unused = transceivers.find((t) => !t.stopped && t.receiver.track.kind === track.kind && !t.sender.track);
    if (unused) {
      // The other side offered video first: answer on its transceiver, sending too.
      unused.direction = 'sendrecv';
      // An encoding turned off with the camera (see replaceTrack) sends again.
      void unused.sender.replaceTrack(track).then(() => setSending(unused.sender, true));
      unused.sender.setStreams?.(this.localStream);
    } else {
      this.pc.addTrack(track, this.localStream);
    }
  }

  /** @param {{type: 'offer' | 'answer', sdp: string}} description */
  async acceptDescription(description) {
    if (this.closed) return;
    const pc = this.pc;
    console.debug('parley: remote', description.type, 'in', pc.signalingState, 'makingOffer', this.makingOffer);
    try {
      // An answer still being set ends our offer: the peer's next offer, arriving meanwhile, is
      // no collision (it is queued behind the answer), and ignoring it would leave the peer
      // waiting for our answer for good.
      const readyForOffer = !this.makingOffer && (pc.signalingState === 'stable' || this.settingRemoteAnswer);
      const collision = description.type === 'offer' && !readyForOffer;
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      this.settingRemoteAnswer = description.type === 'answer';
      this.peerIsFirefox = madeByFirefox(description.sdp);
      try {
        await pc.setRemoteDescription(description);
      } finally {
        this.settingRemoteAnswer = false;
      }
      if (description.type === 'offer') {
        const taken = ++this.offersTaken; // counted once set: one that failed replaced nothing
        this.lastRemoteOfferAt = performance.now();
        await Promise.race([this.tracksReady, this.#whenClosed]);
        // A later offer taken in while we waited for the tracks replaced this one: that one
        // answers (one answer, to the offer now set).
        if (this.closed || taken !== this.offersTaken) return;
        // Tracks added now reuse the offer's transceivers, so the answer carries them.
        this.#addLocalTracks();
        await pc.setLocalDescription();
        this.#sendDescription();
      }
    } catch (error) {
      if (description.type === 'answer') this.#rollBack(error);
      else this.#fail(error);
    }
  }

  /** @param {RTCIceCandidateInit | null} candidate */
  async acceptCandidate(candidate) {
    if (this.closed) return;
    console.debug('parley: remote candidate', candidate ? 'one' : 'end', 'in', this.pc.signalingState);
    try {
      await this.pc.addIceCandidate(candidate ?? undefined);
    } catch (error) {
      // Candidates for an offer we chose to ignore are expected to fail.
      if (!this.ignoreOffer) this.#fail(error);
    }
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.#closedNow();
    this.unsent = [];
    this.#clearRestartTimer();
    this.pc.close();
    for (const track of this.remoteStream.getTracks()) this.remoteStream.removeTrack(track);
  }

  #addLocalTracks() {
    if (this.tracksAdded || this.closed) return;
    this.tracksAdded = true;
    for (const track of this.localStream.getTracks()) this.pc.addTrack(track, this.localStream);
  }

  #wire() {
    const pc = this.pc;
    pc.addEventListener('negotiationneeded', async () => {
      console.debug('parley: negotiationneeded in', pc.signalingState);
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        this.#sendDescription();
      } catch (error) {
        this.#rollBack(error);
      } finally {
        this.makingOffer = false;
      }
    });
    pc.addEventListener('icegatheringstatechange', () => console.debug('parley: gathering', pc.iceGatheringState));
    pc.addEventListener('icecandidate', ({ candidate }) => {
      const init = candidate ? /** @type {OutgoingIceCandidate} */ (candidate.toJSON()) : null;
      this.#relay({ type: 'candidate', candidate: init });
    });
    pc.addEventListener('track', ({ track }) => {
      this.remoteStream.addTrack(track);
      this.dispatchEvent(new CustomEvent('track', { detail: this.remoteStream }));
    });
    pc.addEventListener('connectionstatechange', () => {
      this.dispatchEvent(new CustomEvent('state', { detail: pc.connectionState }));
    });
    pc.addEventListener('iceconnectionstatechange', () => this.#watchIce());
  }

  #watchIce() {
    const state = this.pc.iceConnectionState;
    console.debug('parley: ice', state);
    if (state === 'connected' || state === 'completed' || state === 'closed') {
      this.#clearRestartTimer();
      this.restartsInARow = 0;
    } else if (state === 'failed') {
      if (this.restarter) this.restartIce();
      else this.#restartLater(OTHER_RESTART_AFTER_FAILED_MS);
    } else if (state === 'disconnected') {
      this.#restartLater(RESTART_AFTER_DISCONNECTED_MS[this.restarter ? 'restarter' : 'other']);
    }
  }

  /** @param {number} delay @param {boolean} [evenIfConnected]  media stalled under a "connected" ICE */
  #restartLater(delay, evenIfConnected = false) {
    if (this.restartTimer !== null) return;
    const since = performance.now();
    this.restartTimer = window.setTimeout(() => {
      this.restartTimer = null;
      const state = this.pc.iceConnectionState;
      if (this.closed || (!evenIfConnected && (state === 'connected' || state === 'completed'))) return;
      // The restarter restarted meanwhile: its offer is being worked on. A Firefox restarter
      // restarts once it has a network again, and a restart toward Firefox breaks the call.
      const towardFirefox = this.peerIsFirefox && !madeByFirefox(this.pc.localDescription?.sdp);
      if (!this.restarter && (towardFirefox || this.lastRemoteOfferAt > since)) return;
      this.restartIce();
    }, delay);
  }

  #clearRestartTimer() {
    if (this.restartTimer !== null) window.clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  #sendDescription() {
    const description = this.pc.localDescription;
    // Called right after setLocalDescription(), which has set it.
    if (!description) throw new Error('parley: no local description to send');
    const { type, sdp } = description;
    console.debug('parley: send', type);
    this.#relay({ type, sdp });
  }

  /** @param {OutgoingMessage} message  an offer, answer or candidate, without its `to` */
  #relay(message) {
    if (this.closed) return;
    if (this.peerId === null) {
      this.unsent.push(message);
      if (message.type === 'offer') this.#offerHeld(message.sdp);
    } else {
      this.send({ ...message, to: this.peerId });
    }
  }

  /** Our offer or its answer failed: back to stable, and the restart tried again later. @param {unknown} error */
  #rollBack(error) {
    this.#fail(error);
    if (this.closed || this.pc.signalingState !== 'have-local-offer') return;
    this.pc.setLocalDescription({ type: 'rollback' }).then(
      () => this.#restartLater(RESTART_RETRY_FIRST_MS, true),
      (rollbackError) => this.#fail(rollbackError),
    );
  }

  /** @param {unknown} error */
  #fail(error) {
    if (this.closed) return;
    this.dispatchEvent(new CustomEvent('error', { detail: error }));
  }
}
