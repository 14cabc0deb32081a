// The in-call view shared by room calls and direct calls: local preview, remote media, call
// timer and connection state (shown in the status line and on <body data-state>). It owns its
// one interval; clear() leaves nothing running.
import { translatePage } from './i18n.js';
import { formatDuration, playWithSound, setStatus } from './ui.js';

const STAGE_MARKUP = `
  <video id="remote-video" class="remote-video" autoplay playsinline data-i18n-label="remoteVideo"></video>
  <div class="voice-badge" data-i18n="voiceCall">Voice call</div>
  <video class="local-video" muted autoplay playsinline data-i18n-label="localVideo"></video>
  <button class="unmute-audio primary overlay" type="button" data-i18n="tapToHear" hidden>Tap to turn on sound</button>
  <span class="call-timer timer"></span>`;

export class CallStage {
  /** @param {HTMLElement} root  an empty element that becomes the stage */
  constructor(root) {
    this.root = root;
    root.innerHTML = STAGE_MARKUP;
    translatePage(root);
    this.remote = /** @type {HTMLVideoElement} */ (root.querySelector('.remote-video'));
    this.local = /** @type {HTMLVideoElement} */ (root.querySelector('.local-video'));
    this.timer = /** @type {HTMLElement} */ (root.querySelector('.call-timer'));
    this.unmute = /** @type {HTMLButtonElement} */ (root.querySelector('.unmute-audio'));
    /** @type {number | null} */
    this.interval = null;
    this.startedAt = 0;
  }

  /** @param {MediaStream} stream @param {'audio' | 'video'} kind */
  showLocal(stream, kind) {
    this.local.srcObject = stream;
    this.root.classList.toggle('voice-only', kind === 'audio');
  }

  /** Shows the call's remote media and follows its connection. @param {import('./call.js').PeerCall} call */
  attach(call) {
    const show = () => {
      // Assigning even the same stream again reloads the element (a gap in sound and
      // picture); once assigned, it follows the tracks the stream gains and loses.
      if (this.remote.srcObject !== call.remoteStream) this.remote.srcObject = call.remoteStream;
      else if (!this.remote.paused) return;
      // Not playing yet (the browser refused sound without a tap): a new track tries again.
      playWithSound(this.remote, this.unmute);
    };
    call.addEventListener('track', show);
    // A connection made while the call rang may have its remote tracks already.
    if (call.remoteStream.getTracks().length > 0) show();
    const follow = (/** @type {RTCPeerConnectionState} */ detail) => {
      this.root.dataset.connection = detail;
      if (detail === 'connected') {
        this.#startTimer();
        document.body.dataset.state = 'in-call';
        setStatus('inCall');
      } else if ((detail === 'disconnected' || detail === 'failed') && this.startedAt) {
        // Still in the call: ICE restarts on its own (call.js), the timer keeps counting.
        setStatus('reconnecting');
      } else if (detail === 'failed') {
        setStatus('iceFailed');
      }
    };
    call.addEventListener('state', (event) =>
      follow(/** @type {CustomEvent<import('./call.js').PeerCallEvents['state']>} */ (event).detail),
    );
    // A connection made while the call rang may be up already: the callee's answer rode the
    // accept, and the caller's checks can reach it before this page has heard call-accepted.
    if (call.pc.connectionState !== 'new') follow(call.pc.connectionState);
    call.addEventListener('restarting', () => {
      if (this.startedAt) setStatus('reconnecting');
    });
  }

  /** Detaches all media and stops the timer. */
  clear() {
    if (this.interval !== null) window.clearInterval(this.interval);
    this.interval = null;
    this.startedAt = 0;
    this.timer.textContent = '';
    this.remote.srcObject = null;
    this.local.srcObject = null;
    this.unmute.hidden = true;
    delete this.root.dataset.connection;
  }

  get timerCount() {
    return this.interval === null ? 0 : 1;
  }

  #startTimer() {
    if (this.interval !== null) return;
    this.startedAt = performance.now();
    const tick = () => (this.timer.textContent = formatDuration((performance.now() - this.startedAt) / 1000));
    tick();
    this.interval = window.setInterval(tick, 1000);
  }
}
