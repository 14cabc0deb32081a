// What Phone and RoomCall have in common: they are EventTargets whose events carry the call they
// are about, and a call that is up has the same controls in both (mute, camera, video added to
// a voice call, screen share, devices, figures and the quality report).
import { LiveCall } from './live-call.js';

/**
 * @typedef {import('./live-call.js').MediaStatus} MediaStatus
 * @typedef {import('./stats.js').Figures} Figures
 */

export class CallSession extends EventTarget {
  constructor() {
    super();
    /** The controls of the call that is up, if one is. @type {LiveCall | null} */
    this.live = null;
    /** Every local track this session ever opened (diagnostics: all must end with the call).
     * @type {MediaStreamTrack[]} */
    this.openedTracks = [];
  }

  /** Dispatches `type` with `detail` as a CustomEvent. @param {string} type @param {object} [detail] */
  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** The call the controls' events are about: Phone's DirectCall, or the RoomCall itself.
   * @returns {object | null} */
  eventCall() {
    return null;
  }

  /**
   * Starts the controls of a call that is up on `peerCall`.
   * @param {import('./peer-call.js').PeerCall} peerCall
   * @param {(message: object) => void} relay  sends to the peer (`to` is added)
   */
  startLive(peerCall, relay) {
    this.live = new LiveCall({
      call: peerCall,
      relay,
      trackOpened: (track) => this.openedTracks.push(track),
      emit: (type, detail) => {
        this.emit(type, { call: this.eventCall(), ...detail });
        if (type === 'mediafailed') this.mediaFailed();
      },
    });
    return this.live;
  }

  /** No media got through for 30 s, ICE restarts included (media-watch.js): the call ends as
   * `media-failed`, on both sides. Phone and RoomCall each end it their way. */
  mediaFailed() {}

  /**
   * Tells the host what the call's connection does: its media (`remotestream`), every state
   * (`connectionstate`), and `connected` / `reconnecting` as the path comes and goes (ICE
   * restarts on its own meanwhile: peer-call.js). Events stop once `live` serves another call.
   * @param {import('./peer-call.js').PeerCall} peerCall
   * @param {{state: string, connectedOnce: boolean}} call  what the events are about
   */
  follow(peerCall, call) {
    const current = () => this.live?.call === peerCall;
    const state = (/** @type {RTCPeerConnectionState} */ now) => {
      if (!current()) return;
      this.emit('connectionstate', { call, state: now });
      if (now === 'connected') {
        call.connectedOnce = true;
        call.state = 'connected';
        this.emit('connected', { call });
      } else if ((now === 'disconnected' || now === 'failed') && call.connectedOnce && call.state !== 'reconnecting') {
        call.state = 'reconnecting';
        this.emit('reconnecting', { call });
      }
    };
    const tracks = () => {
      if (current()) this.emit('remotestream', { call, stream: peerCall.remoteStream });
    };
    peerCall.addEventListener('track', tracks);
    peerCall.addEventListener('state', (event) => state(/** @type {CustomEvent<RTCPeerConnectionState>} */ (event).detail));
    // A connection made while a call rang may have its remote tracks already, and may be up
    // already (the callee's answer rode the accept: checks can finish before call-accepted).
    if (peerCall.remoteStream.getTracks().length > 0) tracks();
    if (peerCall.pc.connectionState !== 'new') state(peerCall.pc.connectionState);
  }

  /** Ends the controls; returns the quality summary of the call they served, if there was one. */
  stopLive() {
    const live = this.live;
    this.live = null;
    if (!live) return null;
    const summary = live.summary();
    live.dispose();
    return summary;
  }

  /** What both sides send now, or null outside a call. @returns {MediaStatus | null} */
  get mediaStatus() {
    return this.live?.status ?? null;
  }

  /** @param {boolean} [muted]  default: the other way round */
  setMuted(muted) {
    this.live?.setMuted(muted);
  }

  /** @param {boolean} [off]  default: the other way round */
  async setCameraOff(off) {
    await this.live?.setCameraOff(off);
  }

  /** Asks the other side of a voice call to turn video on; true if the request went out. */
  requestVideo() {
    return this.live?.requestVideo() ?? false;
  }

  /** @param {boolean} accepted */
  answerVideoRequest(accepted) {
    this.live?.answerVideoRequest(accepted);
  }

  async startScreenShare() {
    await this.live?.media.shareScreen();
  }

  async stopScreenShare() {
    await this.live?.media.stopSharing();
  }

  /** @param {'audioinput' | 'videoinput'} kind @param {string} deviceId */
  async switchDevice(kind, deviceId) {
    await this.live?.media.useDevice(kind, deviceId);
  }

  /** The connection's figures now, or null outside a call. @returns {Promise<Figures | null>} */
  async getStats() {
    return (await this.live?.sample()) ?? null;
  }

  /** The other side's sound level now, 0 (silence) to 1; null outside a call or before their
   * sound arrives. `speaking` events say when they start and stop being heard. */
  remoteAudioLevel() {
    return this.live?.remoteAudioLevel() ?? null;
  }

  /** The quality report so far (what is stored with the call at its end), or null. */
  qualityReport() {
    return this.live?.summary() ?? null;
  }
}
