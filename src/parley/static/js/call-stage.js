// The stage of a call, shared by room calls and direct calls: the other person's video edge to
// edge, or their avatar when there is no picture (a voice call, their camera off, no frames
// yet), their name and the call's timer always on top, the self-view as a small tile, and the
// connection state (shown in the status line and on <body data-state>). It owns its one
// interval; clear() leaves nothing running.
import { t, translatePage } from './i18n.js';
import { paintAvatar } from './avatar.js';
import { bindSelfView } from './self-view.js';
import { formatDuration, playWithSound, setStatus } from './ui.js';

const STAGE_MARKUP = `
  <video id="remote-video" class="remote-video" autoplay playsinline data-i18n-label="remoteVideo"></video>
  <div class="peer-tile">
    <span class="avatar large"></span>
    <p class="peer-state">
      <span class="remote-camera-off" data-i18n="mark.cameraOff" hidden>Camera off</span>
      <span class="voice-badge" data-i18n="voiceCall" hidden>Voice call</span>
    </p>
  </div>
  <div class="call-top">
    <h1 class="peer-name" tabindex="-1"></h1>
    <span class="call-timer timer"></span>
  </div>
  <video class="local-video corner-br" muted autoplay playsinline data-i18n-label="localVideo"></video>
  <button class="unmute-audio primary overlay" type="button" data-i18n="tapToHear" hidden>Tap to turn on sound</button>
  <p class="trouble" role="status" hidden><span class="trouble-text"></span>
    <a class="trouble-link" href="/ice-test" target="_blank" rel="noopener" data-i18n="trouble.test">Test your connection</a></p>`;

export class CallStage {
  /** @param {HTMLElement} root  an empty element that becomes the stage */
  constructor(root) {
    this.root = root;
    root.innerHTML = STAGE_MARKUP;
    translatePage(root);
    const find = (/** @type {string} */ selector) => /** @type {HTMLElement} */ (root.querySelector(selector));
    this.remote = /** @type {HTMLVideoElement} */ (find('.remote-video'));
    this.local = /** @type {HTMLVideoElement} */ (find('.local-video'));
    this.timer = find('.call-timer');
    this.unmute = /** @type {HTMLButtonElement} */ (find('.unmute-audio'));
    this.name = find('.peer-name');
    this.avatar = find('.peer-tile .avatar');
    /** @type {number | null} */
    this.interval = null;
    this.startedAt = 0;
    /** Whether the other side sends a picture (their word: video in the call, camera on). */
    this.remoteWanted = false;
    /** @type {WeakSet<MediaStreamTrack>} the remote video tracks followed (mute, unmute) */
    this.followed = new WeakSet();
    bindSelfView(this.local);
    this.#showPicture();
    // iOS pauses media elements when Safari goes to the background and may not resume them:
    // coming back (the tab shown again, or the page restored from the back-forward cache),
    // play what is attached again, or the picture stays black until the next track event.
    const resume = () => {
      if (document.visibilityState === 'visible') this.#resumePlayback();
    };
    document.addEventListener('visibilitychange', resume);
    window.addEventListener('pageshow', resume);
  }

  /**
   * Whom the call is with: their avatar and name (a room's other person has none: `null`).
   * @param {{id: string, name: string} | null} person
   * @param {string} name  the words shown
   * @param {string} [key]  the i18n key of those words, when they are not a name (said again
   *   in a new language)
   */
  setPeer(person, name, key) {
    paintAvatar(this.avatar, person);
    this.name.textContent = name;
    if (key) this.name.dataset.i18n = key;
    else delete this.name.dataset.i18n;
  }

  /** @param {MediaStream} stream @param {'audio' | 'video'} kind */
  showLocal(stream, kind) {
    this.local.srcObject = stream;
    this.setLocalVideo(kind === 'video');
  }

  /** Whether the self-view shows (we send a picture). @param {boolean} sending */
  setLocalVideo(sending) {
    this.root.classList.toggle('local-off', !sending);
  }

  /** Whether the other side says it sends a picture. @param {boolean} wanted */
  setRemoteVideo(wanted) {
    this.remoteWanted = wanted;
    this.#showPicture();
  }

  /** @param {boolean} speaking */
  setSpeaking(speaking) {
    this.root.classList.toggle('speaking', speaking);
  }

  /** Shows the other side's media (a call's `remotestream`). @param {MediaStream} stream */
  showRemote(stream) {
    for (const track of stream.getVideoTracks()) this.#follow(track);
    // Assigning even the same stream again reloads the element (a gap in sound and picture);
    // once assigned, it follows the tracks the stream gains and loses.
    const fresh = this.remote.srcObject !== stream;
    if (fresh) this.remote.srcObject = stream;
    this.#showPicture();
    if (!fresh && !this.remote.paused) return;
    // Not playing yet (the browser refused sound without a tap): a new track tries again.
    playWithSound(this.remote, this.unmute);
  }

  /** A call's `connectionstate`: styles and tests read it on the stage.
   * @param {RTCPeerConnectionState} state */
  connectionState(state) {
    this.root.dataset.connection = state;
    if (state === 'failed' && !this.startedAt) setStatus('iceFailed');
  }

  /** The call's media path is up (a call's `connected`). */
  connected() {
    this.#startTimer();
    document.body.dataset.state = 'in-call';
    setStatus('inCall');
  }

  /** The path broke while in the call (a call's `reconnecting`): ICE restarts on its own, the
   * timer keeps counting. */
  reconnecting() {
    if (this.startedAt) setStatus('reconnecting');
  }

  /** Why no sound or picture gets through (a call's `trouble`), in plain words, with the
   * connection test where it can tell more (not when this device is simply offline); null: it
   * gets through again. @param {import('../sdk/parley.js').Trouble | null} trouble */
  trouble(trouble) {
    const box = /** @type {HTMLElement} */ (this.root.querySelector('.trouble'));
    const text = /** @type {HTMLElement} */ (box.querySelector('.trouble-text'));
    const link = /** @type {HTMLElement} */ (box.querySelector('.trouble-link'));
    box.hidden = trouble === null;
    box.dataset.trouble = trouble ?? '';
    if (trouble === null) return;
    text.dataset.i18n = `trouble.${trouble}`;
    text.textContent = t(`trouble.${trouble}`);
    link.hidden = trouble === 'offline';
  }

  /** Plays again what a background tab had paused: the other side with sound (or its tap
   * button, where sound needs a tap), our own picture silently. */
  #resumePlayback() {
    if (this.remote.srcObject && this.remote.paused) void playWithSound(this.remote, this.unmute);
    if (this.local.srcObject && this.local.paused) this.local.play().catch(() => {});
  }

  /** Detaches all media and stops the timer. */
  clear() {
    this.trouble(null);
    if (this.interval !== null) window.clearInterval(this.interval);
    this.interval = null;
    this.startedAt = 0;
    this.timer.textContent = '';
    this.remote.srcObject = null;
    this.local.srcObject = null;
    this.unmute.hidden = true;
    this.remoteWanted = false;
    this.setSpeaking(false);
    this.#showPicture();
    delete this.root.dataset.connection;
  }

  get timerCount() {
    return this.interval === null ? 0 : 1;
  }

  /** The picture shows only while the other side sends one and frames come (a track stays
   * muted until its first frame, and goes muted when frames stop): never a frozen frame. */
  #showPicture() {
    const stream = /** @type {MediaStream | null} */ (this.remote.srcObject);
    const live = stream?.getVideoTracks().some((track) => track.readyState === 'live' && !track.muted) ?? false;
    this.root.classList.toggle('remote-off', !(this.remoteWanted && live));
  }

  /** @param {MediaStreamTrack} track */
  #follow(track) {
    if (this.followed.has(track)) return;
    this.followed.add(track);
    for (const type of ['mute', 'unmute', 'ended']) track.addEventListener(type, () => this.#showPicture());
  }

  #startTimer() {
    if (this.interval !== null) return;
    this.startedAt = performance.now();
    const tick = () => (this.timer.textContent = formatDuration((performance.now() - this.startedAt) / 1000));
    tick();
    this.interval = window.setInterval(tick, 1000);
  }
}
