// A call that is up, between this side and one peer, for direct calls and rooms alike: what we
// send (local-media.js), what the other side says it sends (`media-state`), video added to a
// voice call only once the other side agrees (`video-request` / `video-reply`), devices that
// come and go, and the connection's figures, sampled for the quality report at the end.
// No DOM: it tells its owner (Phone or RoomCall) through `emit`, which hands it to the host.
import { CallStats } from './stats.js';
import { LocalMedia } from './local-media.js';
import { listDevices } from './capture.js';
import { MediaWatch } from './media-watch.js';

/** How often the figures are sampled: often enough to follow a change, cheap enough for hours. */
const STATS_EVERY_MS = 2000;
/** How often the other side's sound level is measured, for `speaking`. */
const LEVEL_EVERY_MS = 250;
/** The level (0..1, the RMS of RTCRtpSynchronizationSource.audioLevel over the last interval)
 * above which someone speaks; below the second for HOLD_MS, they stopped (a voice's pauses
 * between words do not make the mark flicker). */
const SPEAKING_ABOVE = 0.02;
const SILENT_BELOW = 0.01;
const HOLD_MS = 700;

/**
 * @typedef {import('./local-media.js').MediaState} MediaState
 * @typedef {import('./stats.js').Figures} Figures
 * @typedef {{local: MediaState, remote: MediaState, sendingVideo: boolean,
 *   receivingVideo: boolean, localReady: boolean}} MediaStatus
 * `sendingVideo`: the call sends (or is about to send) video; `receivingVideo`: the other side's
 * video reaches us (camera off or not); `localReady`: our tracks are in the call.
 * @typedef {(type: string, detail: object) => void} Emit
 */

export class LiveCall {
  /**
   * @param {object} options
   * @param {import('./peer-call.js').PeerCall} options.call
   * @param {(message: object) => void} options.relay  sends a message to the other side (`to` is added)
   * @param {(track: MediaStreamTrack) => void} options.trackOpened  every local track this opens
   * @param {Emit} options.emit  an event for the host: mediastate, localstream, videorequest,
   *   videoreply, warning, stats, devicechange, speaking, trouble (why no media gets through, or
   *   null once it does), mediafailed (none for 30 s: the owner ends the call)
   */
  constructor({ call, relay, trackOpened, emit }) {
    this.call = call;
    this.relay = relay;
    this.emit = emit;
    this.media = new LocalMedia({
      call,
      trackOpened,
      changed: () => this.#announce(),
      streamChanged: () => emit('localstream', { stream: call.localStream }),
      warn: (code) => emit('warning', { code }),
    });
    /** @type {MediaState} */
    this.remote = { muted: false, cameraOff: false, screen: false };
    this.videoAsked = false;
    this.videoAgreed = false;
    this.startedAt = performance.now();
    this.stats = new CallStats(call.pc);
    this.disposed = false;
    this.onDeviceChange = () => this.#devicesChanged();
    call.addEventListener('track', () => this.#remoteTrackArrived());
    call.addEventListener('state', () => this.#status());
    call.addEventListener('local-ready', () => this.#status());
    navigator.mediaDevices?.addEventListener('devicechange', this.onDeviceChange);
    this.statsTimer = window.setInterval(() => this.sample(), STATS_EVERY_MS);
    this.remoteSpeaking = false;
    /** The other side's level over the last interval. @type {number | null} */
    this.remoteLevel = null;
    /** @type {{energy: number, duration: number} | null} */
    this.lastEnergy = null;
    this.quietSince = 0;
    this.measuring = false;
    this.levelTimer = window.setInterval(() => this.#followLevel(), LEVEL_EVERY_MS);
    this.watch = new MediaWatch(call, {
      stalled: () => call.mediaStalled(),
      trouble: (trouble) => emit('trouble', { trouble }),
      failed: (trouble) => emit('mediafailed', { trouble }),
    });
  }

  /** The other side's sound level, 0 (silence) to 1, over the last quarter second; null before
   * their sound arrives. */
  remoteAudioLevel() {
    return this.remoteLevel;
  }

  /** Our media state, as announced to the other side. */
  get local() {
    return this.media.state;
  }

  /** @returns {MediaStatus} */
  get status() {
    const sendingVideo = this.media.hasVideo || this.call.localStream.getVideoTracks().length > 0;
    return {
      local: { ...this.local },
      remote: { ...this.remote },
      sendingVideo,
      receivingVideo: this.call.transceiver('video')?.currentDirection?.includes('recv') ?? false,
      localReady: this.call.localReady,
    };
  }

  /** @param {boolean} [muted]  default: the other way round */
  setMuted(muted = !this.local.muted) {
    this.media.setMuted(muted);
  }

  /** @param {boolean} [off]  default: the other way round */
  setCameraOff(off = !this.local.cameraOff) {
    return this.media.setCameraOff(off);
  }

  /** In a voice call: ask the other side first; video starts only if they agree. */
  requestVideo() {
    if (this.media.hasVideo || this.videoAsked || !this.call.localReady) return false;
    this.videoAsked = true;
    this.relay({ type: 'video-request' });
    return true;
  }

  /** Only the side that asked adds the video transceiver (its offer carries it); this side
   * sends its camera on that transceiver when the offer arrives. Both adding at once would make
   * two video m-lines and a glare. @param {boolean} accepted */
  answerVideoRequest(accepted) {
    this.relay({ type: 'video-reply', accepted });
    this.videoAgreed = accepted;
  }

  /**
   * A relayed in-call message from the peer.
   * @param {'media-state' | 'video-request' | 'video-reply'} type
   * @param {{from: string, muted?: boolean, cameraOff?: boolean, screen?: boolean, accepted?: boolean}} detail
   */
  receive(type, detail) {
    if (type === 'media-state') {
      this.remote = { muted: !!detail.muted, cameraOff: !!detail.cameraOff, screen: !!detail.screen };
      this.#status();
    } else if (type === 'video-request') {
      this.emit('videorequest', {});
    } else if (type === 'video-reply') {
      if (!this.videoAsked) return;
      this.videoAsked = false;
      if (detail.accepted) this.media.startVideo();
      this.emit('videoreply', { accepted: !!detail.accepted });
    }
  }

  /** The connection's figures now (and kept for the quality report). @returns {Promise<Figures | null>} */
  async sample() {
    if (this.disposed || this.call.closed) return null;
    let figures;
    try {
      figures = await this.stats.sample();
    } catch {
      return null;
    }
    if (!this.disposed) this.emit('stats', { figures });
    return figures;
  }

  /** The whole call in a few numbers, and why media stopped if it did: what `quality`
   * sends at the end. */
  summary() {
    return { ...this.stats.summary((performance.now() - this.startedAt) / 1000), trouble: this.watch.met };
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    window.clearInterval(this.statsTimer);
    window.clearInterval(this.levelTimer);
    this.watch.stop();
    navigator.mediaDevices?.removeEventListener('devicechange', this.onDeviceChange);
    this.media.dispose();
  }

  get timerCount() {
    return this.disposed ? 0 : 3;
  }

  /** `speaking` when the other side starts or stops being heard (muted, they send silence).
   * The level is the sound's energy over the interval (inbound-rtp totalAudioEnergy), so no
   * short sound between two readings is missed. */
  async #followLevel() {
    const receiver = this.call.transceiver('audio')?.receiver;
    if (this.disposed || this.call.closed || this.measuring || !receiver) return;
    this.measuring = true;
    let now = { energy: 0, duration: 0 };
    try {
      (await receiver.getStats()).forEach((stat) => {
        if (stat.type === 'inbound-rtp') now = { energy: stat.totalAudioEnergy ?? 0, duration: stat.totalSamplesDuration ?? 0 };
      });
    } catch {
      return;
    } finally {
      this.measuring = false;
    }
    const last = this.lastEnergy;
    this.lastEnergy = now;
    if (this.disposed || !last || now.duration <= last.duration) return;
    const level = Math.sqrt(Math.max(0, now.energy - last.energy) / (now.duration - last.duration));
    this.remoteLevel = level;
    const at = performance.now();
    if (level >= SILENT_BELOW) this.quietSince = at;
    const speaking = this.remoteSpeaking ? at - this.quietSince < HOLD_MS : level > SPEAKING_ABOVE;
    if (speaking === this.remoteSpeaking) return;
    this.remoteSpeaking = speaking;
    this.emit('speaking', { speaking, level });
  }

  #remoteTrackArrived() {
    if (this.videoAgreed && this.call.remoteStream.getVideoTracks().length > 0) {
      this.videoAgreed = false;
      this.media.startVideo();
    }
    this.#status();
  }

  #announce() {
    this.relay({ type: 'media-state', ...this.local });
    this.#status();
  }

  #status() {
    if (!this.disposed) this.emit('mediastate', this.status);
  }

  async #devicesChanged() {
    let lists;
    try {
      lists = await listDevices();
    } catch {
      return;
    }
    if (this.disposed) return;
    this.emit('devicechange', { devices: lists });
    await this.media.replaceGoneDevices(lists);
  }
}
