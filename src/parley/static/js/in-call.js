// The controls of a call that is up: mute, camera off, video added to a voice call (after the
// other side agrees), screen share, device choice and hot-plug, live statistics, fullscreen,
// picture-in-picture and keyboard shortcuts. Shared by the room page and the phone page.
//
// InCall ties them together and holds the exchange with the other side (its media state, the
// request to add video). The parts: in-call-media.js changes what we send, in-call-view.js
// draws and binds the controls, in-call-devices.js fills the device panel, in-call-stats.js
// shows the connection figures.
import { canChooseSpeaker, devicePreferences } from './media.js';
import { CallStats } from './stats.js';
import { LocalMedia } from './in-call-media.js';
import {
  bindInCallView,
  handleShortcut,
  hideVideoPrompt,
  mountInCallView,
  showControls,
  showRemoteMarks,
  showVideoPrompt,
} from './in-call-view.js';
import { fillInCallDevices } from './in-call-devices.js';
import { STATS_EVERY_MS, showFigures } from './in-call-stats.js';

/**
 * @typedef {import('./call.js').PeerCall} PeerCall
 * @typedef {import('./in-call-view.js').MediaState} MediaState
 */

/**
 * Events: `notice` (detail: {key, params}) for the page's status line.
 * @typedef {{key: string, params: Record<string, string>}} Notice
 */
export class InCall extends EventTarget {
  /**
   * @param {object} options
   * @param {import('./call-stage.js').CallStage} options.stage
   * @param {PeerCall} options.call
   * @param {HTMLElement} options.bar  the call bar: the controls go before its hang-up button
   * @param {(message: object) => void} options.relay  sends a message to the other side (`to` is added)
   * @param {(track: MediaStreamTrack) => void} options.trackOpened  every local track this opens
   * @param {() => string} options.peerName
   * @param {() => void} options.hangUp
   */
  constructor({ stage, call, bar, relay, trackOpened, peerName, hangUp }) {
    super();
    this.stage = stage;
    this.call = call;
    this.relay = relay;
    this.peerName = peerName;
    this.hangUp = hangUp;
    this.media = new LocalMedia({
      stage,
      call,
      trackOpened,
      changed: () => this.#announce(),
      notice: (key) => this.#notice(key),
    });
    /** @type {MediaState} */
    this.remote = { muted: false, cameraOff: false, screen: false };
    this.videoAsked = false;
    this.videoAgreed = false;
    this.startedAt = performance.now();
    this.stats = new CallStats(call.pc);
    this.disposed = false;

    const { controls, overlay } = mountInCallView(stage, bar);
    this.controls = controls;
    this.overlay = overlay;
    const actions = this.#actions();
    this.onKey = (/** @type {KeyboardEvent} */ event) => handleShortcut(event, actions);
    this.onDeviceChange = () => this.#devicesChanged();
    call.addEventListener('track', () => this.#remoteTrackArrived());
    call.addEventListener('state', () => this.refresh());
    call.addEventListener('local-ready', () => this.refresh());
    document.addEventListener('keydown', this.onKey);
    navigator.mediaDevices?.addEventListener('devicechange', this.onDeviceChange);
    bindInCallView(controls, overlay, stage, actions);
    this.statsTimer = window.setInterval(() => this.#sampleStats(), STATS_EVERY_MS);
    const speaker = devicePreferences().audiooutput;
    if (speaker && canChooseSpeaker) stage.remote.setSinkId(speaker).catch(() => {});
    this.refresh();
    fillInCallDevices(overlay, stage, call);
  }

  /** Our media state, as announced to the other side (the pages' debug handles read it). */
  get local() {
    return this.media.state;
  }

  get hasVideo() {
    return this.media.hasVideo;
  }

  /** Shows the buttons that apply now (video ones only once the call sends video). */
  refresh() {
    const video = this.hasVideo || this.call.localStream.getVideoTracks().length > 0;
    showControls(this.controls, { video, localReady: this.call.localReady, local: this.local });
    this.stage.root.classList.toggle('voice-only', !video && !this.#remoteVideoLive());
  }

  /** In a voice call: ask the other side first; video starts only if they agree. */
  askForVideo() {
    if (this.hasVideo || this.videoAsked || !this.call.localReady) return;
    this.videoAsked = true;
    this.relay({ type: 'video-request' });
    this.#notice('video.asked', { name: this.peerName() });
  }

  /**
   * A relayed in-call message from the peer.
   * @param {'media-state' | 'video-request' | 'video-reply'} type
   * @param {{from: string, muted?: boolean, cameraOff?: boolean, screen?: boolean, accepted?: boolean}} detail
   */
  receive(type, detail) {
    if (type === 'media-state') {
      this.remote = { muted: !!detail.muted, cameraOff: !!detail.cameraOff, screen: !!detail.screen };
      showRemoteMarks(this.overlay, this.stage, this.remote, this.#remoteVideoLive(true));
      this.refresh();
    } else if (type === 'video-request') {
      showVideoPrompt(this.overlay, this.peerName());
    } else if (type === 'video-reply') {
      if (!this.videoAsked) return;
      this.videoAsked = false;
      if (detail.accepted) this.media.startVideo();
      else this.#notice('video.declined', { name: this.peerName() });
    }
  }

  // --- the summary and the end --------------------------------------------------------------

  /** What `quality` sends at hang-up. */
  summary() {
    return this.stats.summary((performance.now() - this.startedAt) / 1000);
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    window.clearInterval(this.statsTimer);
    document.removeEventListener('keydown', this.onKey);
    navigator.mediaDevices?.removeEventListener('devicechange', this.onDeviceChange);
    this.media.dispose();
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    if (document.pictureInPictureElement) document.exitPictureInPicture().catch(() => {});
    this.controls.remove();
    this.overlay.remove();
  }

  get timerCount() {
    return this.disposed ? 0 : 1;
  }

  // --- internals ----------------------------------------------------------------------------

  /** @returns {import('./in-call-view.js').ControlActions} */
  #actions() {
    const media = this.media;
    return {
      toggleMute: () => media.toggleMute(),
      toggleCamera: () => media.toggleCamera(),
      askForVideo: () => this.askForVideo(),
      toggleShare: () => (media.state.screen ? media.stopSharing() : media.shareScreen()),
      sampleStats: () => this.#sampleStats(),
      useDevice: (kind, deviceId) => media.useDevice(kind, deviceId),
      answerVideo: (accepted) => this.#answerVideo(accepted),
      hasVideo: () => this.hasVideo,
      hangUp: () => this.hangUp(),
    };
  }

  /** Only the side that asked adds the video transceiver (its offer carries it); this side
   * sends its camera on that transceiver when the offer arrives. Both adding at once would make
   * two video m-lines and a glare. @param {boolean} accepted */
  #answerVideo(accepted) {
    hideVideoPrompt(this.overlay);
    this.relay({ type: 'video-reply', accepted });
    this.videoAgreed = accepted;
  }

  #remoteTrackArrived() {
    if (this.videoAgreed && this.call.remoteStream.getVideoTracks().length > 0) {
      this.videoAgreed = false;
      this.media.startVideo();
    }
    this.refresh();
  }

  /** @param {boolean} [evenIfOff] */
  #remoteVideoLive(evenIfOff = false) {
    const receiving = this.call.transceiver('video')?.currentDirection?.includes('recv') ?? false;
    return receiving && (evenIfOff || !this.remote.cameraOff);
  }

  #announce() {
    this.relay({ type: 'media-state', ...this.local });
    this.refresh();
  }

  /** @param {string} key @param {Record<string, string>} [params] */
  #notice(key, params = {}) {
    this.dispatchEvent(new CustomEvent('notice', { detail: { key, params } }));
  }

  async #devicesChanged() {
    const lists = await fillInCallDevices(this.overlay, this.stage, this.call);
    if (!lists || this.disposed) return;
    await this.media.replaceGoneDevices(lists);
  }

  async #sampleStats() {
    if (this.disposed || this.call.closed) return;
    let figures;
    try {
      figures = await this.stats.sample();
    } catch {
      return;
    }
    if (!this.disposed) showFigures(this.overlay, figures);
  }
}
