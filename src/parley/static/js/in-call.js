// The controls of a call that is up: mute, camera off, video added to a voice call (after the
// other side agrees), screen share, device choice and hot-plug, live statistics, fullscreen,
// picture-in-picture and keyboard shortcuts. Shared by the room page and the phone page.
//
// Media changes use RTCRtpSender.replaceTrack, so they need no renegotiation and the other
// direction never pauses; only adding video to a voice call renegotiates (perfect negotiation).
import { format, t, translatePage } from './i18n.js';
import {
  canChooseSpeaker,
  devicePreferences,
  listDevices,
  openScreen,
  openTrack,
  rememberDevice,
} from './media.js';
import { CallStats } from './stats.js';
import { DEVICE_KINDS, DEVICE_SELECTS_MARKUP, fillDeviceSelect } from './device-picker.js';

const STATS_EVERY_MS = 2000;

const CONTROLS_MARKUP = `
  <button type="button" class="control mute" aria-pressed="false" data-i18n="control.mute" data-i18n-label="control.muteLabel">Mute</button>
  <button type="button" class="control camera" aria-pressed="false" data-i18n="control.cameraOff" data-i18n-label="control.cameraLabel">Camera off</button>
  <button type="button" class="control add-video" data-i18n="control.addVideo">Turn on video</button>
  <button type="button" class="control share" aria-pressed="false" data-i18n="control.share">Share screen</button>
  <button type="button" class="control devices" aria-expanded="false" data-i18n="control.devices">Devices</button>
  <button type="button" class="control stats" aria-expanded="false" data-i18n="control.stats">Stats</button>
  <button type="button" class="control fullscreen" data-i18n="control.fullscreen">Fullscreen</button>
  <button type="button" class="control pip" data-i18n="control.pip">Picture in picture</button>`;

const OVERLAY_MARKUP = `
  <div class="remote-marks" aria-live="polite">
    <span class="mark remote-muted" data-i18n="mark.muted" hidden>Muted</span>
    <span class="mark remote-screen" data-i18n="mark.screen" hidden>Sharing screen</span>
  </div>
  <div class="remote-camera-off overlay" data-i18n="mark.cameraOff" hidden>Camera off</div>
  <div class="video-prompt overlay" role="alertdialog" hidden>
    <p class="video-prompt-text"></p>
    <div class="actions">
      <button type="button" class="primary video-accept" data-i18n="video.accept">Turn on video</button>
      <button type="button" class="video-decline" data-i18n="video.decline">Stay on voice</button>
    </div>
  </div>
  <div class="side-panel devices-panel" hidden>${DEVICE_SELECTS_MARKUP}</div>
  <dl class="side-panel stats-panel" hidden></dl>
  <div class="quality-mark" hidden></div>`;

/**
 * @typedef {import('./call.js').PeerCall} PeerCall
 * @typedef {{muted: boolean, cameraOff: boolean, screen: boolean}} MediaState
 */

/** Events: `notice` (detail: {key, params}) for the page's status line. */
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
    this.trackOpened = trackOpened;
    this.peerName = peerName;
    this.hangUp = hangUp;
    /** @type {MediaState} */
    this.local = { muted: false, cameraOff: false, screen: false };
    /** @type {MediaState} */
    this.remote = { muted: false, cameraOff: false, screen: false };
    /** @type {MediaStreamTrack | null} */
    this.screenTrack = null;
    this.videoAsked = false;
    this.videoAgreed = false;
    this.startingVideo = false;
    this.startedAt = performance.now();
    this.stats = new CallStats(call.pc);
    this.disposed = false;

    this.controls = document.createElement('div');
    this.controls.className = 'controls';
    this.controls.innerHTML = CONTROLS_MARKUP;
    bar.insertBefore(this.controls, bar.querySelector('.danger'));
    this.overlay = document.createElement('div');
    this.overlay.className = 'in-call-overlay';
    this.overlay.innerHTML = OVERLAY_MARKUP;
    stage.root.append(this.overlay);
    translatePage(this.controls);
    translatePage(this.overlay);

    this.onKey = (/** @type {KeyboardEvent} */ event) => this.#shortcut(event);
    this.onDeviceChange = () => this.#devicesChanged();
    call.addEventListener('track', () => this.#remoteTrackArrived());
    call.addEventListener('state', () => this.refresh());
    call.addEventListener('local-ready', () => this.refresh());
    document.addEventListener('keydown', this.onKey);
    navigator.mediaDevices?.addEventListener('devicechange', this.onDeviceChange);
    this.#bind();
    this.statsTimer = window.setInterval(() => this.#sampleStats(), STATS_EVERY_MS);
    const speaker = devicePreferences().audiooutput;
    if (speaker && canChooseSpeaker) /** @type {any} */ (stage.remote).setSinkId(speaker).catch(() => {});
    this.refresh();
    this.#fillDevices();
  }

  get hasVideo() {
    return this.call.transceiver('video')?.currentDirection?.includes('send') ?? false;
  }

  /** Shows the buttons that apply now (video ones only once the call sends video). */
  refresh() {
    const q = (/** @type {string} */ s) => /** @type {HTMLElement} */ (this.controls.querySelector(s));
    const video = this.hasVideo || this.call.localStream.getVideoTracks().length > 0;
    q('.camera').hidden = !video;
    q('.share').hidden = !video || !navigator.mediaDevices?.getDisplayMedia;
    // Until our camera and microphone are in (the callee's open while the call connects),
    // there is nothing to add video to.
    q('.add-video').hidden = video || !this.call.localReady;
    q('.pip').hidden = !document.pictureInPictureEnabled;
    this.#press('.mute', this.local.muted, this.local.muted ? 'control.unmute' : 'control.mute');
    this.#press('.camera', this.local.cameraOff, this.local.cameraOff ? 'control.cameraOn' : 'control.cameraOff');
    this.#press('.share', this.local.screen, this.local.screen ? 'control.stopShare' : 'control.share');
    this.stage.root.classList.toggle('voice-only', !video && !this.#remoteVideoLive());
  }

  // --- local media --------------------------------------------------------------------------

  toggleMute() {
    this.local.muted = !this.local.muted;
    for (const track of this.call.localStream.getAudioTracks()) track.enabled = !this.local.muted;
    this.#announce();
  }

  async toggleCamera() {
    if (!this.hasVideo || this.local.screen) return;
    if (!this.local.cameraOff) {
      // Off means off: the track stops (the camera light too) and nothing is sent.
      const track = this.call.sentTrack('video');
      await this.call.replaceTrack('video', null);
      track?.stop();
      this.stage.local.srcObject = this.call.localStream;
      this.local.cameraOff = true;
    } else {
      const track = await this.#open('video');
      if (!track) return;
      await this.call.replaceTrack('video', track);
      this.stage.local.srcObject = this.call.localStream;
      this.local.cameraOff = false;
    }
    this.#announce();
  }

  /** In a voice call: ask the other side first; video starts only if they agree. */
  askForVideo() {
    if (this.hasVideo || this.videoAsked || !this.call.localReady) return;
    this.videoAsked = true;
    this.relay({ type: 'video-request' });
    this.#notice('video.asked', { name: this.peerName() });
  }

  async startVideo() {
    if (this.hasVideo || this.startingVideo) return;
    this.startingVideo = true;
    try {
      // Agreed to before our microphone was in (the callee's opens while the call connects):
      // the camera joins once it is, or it would stand in for the tracks not yet added.
      await this.call.tracksReady;
      if (this.disposed || this.call.closed || this.call.localStream.getVideoTracks().length) return;
      const track = await this.#open('video');
      if (!track) return;
      this.call.addTrack(track);
      this.stage.showLocal(this.call.localStream, 'video');
      this.local.cameraOff = false;
      this.#announce();
    } finally {
      this.startingVideo = false;
    }
  }

  async shareScreen() {
    if (!this.hasVideo || this.local.screen) return;
    let track;
    try {
      track = await openScreen();
    } catch {
      return; // the user closed the picker
    }
    this.trackOpened(track);
    const camera = this.call.sentTrack('video');
    if (!(await this.call.replaceTrack('video', track))) {
      track.stop();
      return;
    }
    camera?.stop();
    this.screenTrack = track;
    // The browser's own "Stop sharing" ends the track: go back to the camera then too.
    track.addEventListener('ended', () => this.stopSharing());
    this.local.screen = true;
    this.local.cameraOff = false;
    this.stage.local.srcObject = this.call.localStream;
    this.#announce();
  }

  async stopSharing() {
    if (!this.local.screen || this.disposed || !this.screenTrack) return;
    const screen = this.screenTrack;
    this.screenTrack = null; // a second stop (button and browser at once) does nothing
    const camera = await this.#open('video');
    await this.call.replaceTrack('video', camera);
    screen.stop();
    this.local.screen = false;
    this.stage.local.srcObject = this.call.localStream;
    this.#announce();
  }

  /** @param {'audioinput' | 'videoinput' | 'audiooutput'} kind @param {string} deviceId */
  async useDevice(kind, deviceId) {
    rememberDevice(kind, deviceId);
    if (kind === 'audiooutput') {
      if (canChooseSpeaker) await /** @type {any} */ (this.stage.remote).setSinkId(deviceId);
      return;
    }
    const media = kind === 'audioinput' ? 'audio' : 'video';
    if (media === 'video' && (this.local.cameraOff || this.local.screen || !this.hasVideo)) return;
    const old = this.call.sentTrack(media);
    const track = await this.#open(media, deviceId);
    if (!track) return;
    if (media === 'audio') track.enabled = !this.local.muted;
    await this.call.replaceTrack(media, track);
    old?.stop();
    this.stage.local.srcObject = this.call.localStream;
  }

  // --- the other side -----------------------------------------------------------------------

  /** A relayed in-call message from the peer. @param {string} type @param {any} detail */
  receive(type, detail) {
    if (type === 'media-state') {
      this.remote = { muted: !!detail.muted, cameraOff: !!detail.cameraOff, screen: !!detail.screen };
      this.#showRemote();
    } else if (type === 'video-request') {
      this.#promptForVideo();
    } else if (type === 'video-reply') {
      if (!this.videoAsked) return;
      this.videoAsked = false;
      if (detail.accepted) this.startVideo();
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
    this.screenTrack?.stop();
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    if (document.pictureInPictureElement) document.exitPictureInPicture().catch(() => {});
    this.controls.remove();
    this.overlay.remove();
  }

  get timerCount() {
    return this.disposed ? 0 : 1;
  }

  // --- internals ----------------------------------------------------------------------------

  #bind() {
    const on = (/** @type {string} */ selector, /** @type {() => void} */ action) =>
      this.controls.querySelector(selector)?.addEventListener('click', action);
    on('.mute', () => this.toggleMute());
    on('.camera', () => this.toggleCamera());
    on('.add-video', () => this.askForVideo());
    on('.share', () => (this.local.screen ? this.stopSharing() : this.shareScreen()));
    on('.devices', () => this.#togglePanel('.devices', '.devices-panel'));
    on('.stats', () => {
      this.#togglePanel('.stats', '.stats-panel');
      this.#sampleStats();
    });
    on('.fullscreen', () => {
      if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
      else this.stage.root.requestFullscreen?.().catch(() => {});
    });
    on('.pip', () => {
      if (document.pictureInPictureElement) document.exitPictureInPicture().catch(() => {});
      else this.stage.remote.requestPictureInPicture?.().catch(() => {});
    });
    for (const kind of DEVICE_KINDS) {
      const select = /** @type {HTMLSelectElement} */ (this.overlay.querySelector(`.device-${kind}`));
      select.addEventListener('change', () => this.useDevice(kind, select.value));
    }
    this.overlay.querySelector('.video-accept')?.addEventListener('click', () => this.#answerVideo(true));
    this.overlay.querySelector('.video-decline')?.addEventListener('click', () => this.#answerVideo(false));
  }

  /** @param {KeyboardEvent} event */
  #shortcut(event) {
    const target = /** @type {HTMLElement | null} */ (event.target);
    if (event.ctrlKey || event.metaKey || event.altKey || target?.closest('input, select, textarea')) return;
    const key = event.key.toLowerCase();
    if (key === 'm') this.toggleMute();
    else if (key === 'v') {
      if (this.hasVideo) this.toggleCamera();
      else this.askForVideo();
    } else if (key === 'h') this.hangUp();
    else return;
    event.preventDefault();
  }

  /** Only the side that asked adds the video transceiver (its offer carries it); this side
   * sends its camera on that transceiver when the offer arrives. Both adding at once would make
   * two video m-lines and a glare. @param {boolean} accepted */
  #answerVideo(accepted) {
    /** @type {HTMLElement} */ (this.overlay.querySelector('.video-prompt')).hidden = true;
    this.relay({ type: 'video-reply', accepted });
    this.videoAgreed = accepted;
  }

  #remoteTrackArrived() {
    if (this.videoAgreed && this.call.remoteStream.getVideoTracks().length > 0) {
      this.videoAgreed = false;
      this.startVideo();
    }
    this.refresh();
  }

  #promptForVideo() {
    const prompt = /** @type {HTMLElement} */ (this.overlay.querySelector('.video-prompt'));
    /** @type {HTMLElement} */ (prompt.querySelector('.video-prompt-text')).textContent = format('video.request', {
      name: this.peerName(),
    });
    prompt.hidden = false;
  }

  #showRemote() {
    const q = (/** @type {string} */ s) => /** @type {HTMLElement} */ (this.overlay.querySelector(s));
    q('.remote-muted').hidden = !this.remote.muted;
    q('.remote-screen').hidden = !this.remote.screen;
    q('.remote-camera-off').hidden = !this.remote.cameraOff || !this.#remoteVideoLive(true);
    this.stage.root.dataset.remoteMuted = String(this.remote.muted);
    this.stage.root.dataset.remoteCameraOff = String(this.remote.cameraOff);
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

  /** @param {'audio' | 'video'} kind @param {string} [deviceId] */
  async #open(kind, deviceId) {
    try {
      const track = await openTrack(kind, deviceId);
      this.trackOpened(track);
      if (this.disposed) {
        track.stop();
        return null;
      }
      return track;
    } catch {
      this.#notice(kind === 'audio' ? 'device.micFailed' : 'device.cameraFailed');
      return null;
    }
  }

  /** @param {string} button @param {string} panel */
  #togglePanel(button, panel) {
    const element = /** @type {HTMLElement} */ (this.overlay.querySelector(panel));
    element.hidden = !element.hidden;
    this.controls.querySelector(button)?.setAttribute('aria-expanded', String(!element.hidden));
  }

  /** @param {string} selector @param {boolean} pressed @param {string} key */
  #press(selector, pressed, key) {
    const button = /** @type {HTMLElement} */ (this.controls.querySelector(selector));
    button.setAttribute('aria-pressed', String(pressed));
    button.dataset.i18n = key;
    button.textContent = t(key);
  }

  async #fillDevices() {
    let lists;
    try {
      lists = await listDevices();
    } catch {
      return;
    }
    for (const kind of DEVICE_KINDS) {
      const select = /** @type {HTMLSelectElement} */ (this.overlay.querySelector(`.device-${kind}`));
      const inUse =
        kind === 'audiooutput'
          ? /** @type {any} */ (this.stage.remote).sinkId || 'default'
          : this.call.sentTrack(kind === 'audioinput' ? 'audio' : 'video')?.getSettings().deviceId;
      fillDeviceSelect(select, kind, lists[kind], inUse);
    }
    /** @type {HTMLElement} */ (this.overlay.querySelector('.speaker-choice')).hidden =
      !canChooseSpeaker || lists.audiooutput.length === 0;
    return lists;
  }

  /** A device came or went. If the one in use is gone, fall back to the default and say so. */
  async #devicesChanged() {
    const lists = await this.#fillDevices();
    if (!lists || this.disposed) return;
    for (const [media, kind] of /** @type {const} */ ([['audio', 'audioinput'], ['video', 'videoinput']])) {
      const track = this.call.sentTrack(media);
      if (!track || (media === 'video' && this.local.screen)) continue;
      const id = track.getSettings().deviceId;
      const gone = track.readyState === 'ended' || !lists[kind].some((d) => d.deviceId === id);
      if (!gone) continue;
      const replacement = await this.#open(media, 'default');
      if (!replacement) continue;
      if (media === 'audio') replacement.enabled = !this.local.muted;
      await this.call.replaceTrack(media, replacement);
      track.stop();
      this.stage.local.srcObject = this.call.localStream;
      this.#notice(media === 'audio' ? 'device.micGone' : 'device.cameraGone');
    }
  }

  async #sampleStats() {
    if (this.disposed || this.call.closed) return;
    let figures;
    try {
      figures = await this.stats.sample();
    } catch {
      return;
    }
    if (this.disposed) return;
    const mark = /** @type {HTMLElement} */ (this.overlay.querySelector('.quality-mark'));
    mark.hidden = figures.quality === null;
    if (figures.quality) {
      mark.dataset.quality = figures.quality;
      mark.textContent = t(`quality.${figures.quality}`);
    }
    const panel = /** @type {HTMLElement} */ (this.overlay.querySelector('.stats-panel'));
    if (panel.hidden) return;
    const fixed = (/** @type {number | null} */ v, /** @type {number} */ digits = 0) => (v === null ? '—' : v.toFixed(digits));
    const rows = [
      ['stats.rtt', `${fixed(figures.rttMs)} ms`],
      ['stats.jitter', `${fixed(figures.jitterMs, 1)} ms`],
      ['stats.loss', `${fixed(figures.lossPercent, 1)} %`],
      ['stats.send', `${fixed(figures.sendKbps)} kbit/s`],
      ['stats.receive', `${fixed(figures.receiveKbps)} kbit/s`],
      ['stats.video', figures.width ? `${figures.width}×${figures.height} @ ${fixed(figures.fps)} fps` : '—'],
      ['stats.codec', figures.codec ?? '—'],
      ['stats.path', figures.candidateType ? `${figures.candidateType} / ${figures.protocol ?? '?'}` : '—'],
    ];
    panel.replaceChildren(
      ...rows.flatMap(([key, value]) => {
        const term = document.createElement('dt');
        term.textContent = t(key);
        const data = document.createElement('dd');
        data.textContent = value;
        data.dataset.stat = key.split('.')[1];
        return [term, data];
      }),
    );
  }
}
