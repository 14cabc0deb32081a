// The controls of a call that is up, as Parley's pages show them: microphone, camera, video
// added to a voice call (after the other side agrees), screen share or flip camera, and in the
// "more" sheet devices, connection details, fullscreen, picture-in-picture and the keyboard
// shortcuts. Shared by the room page and the phone page. A view only: the SDK's Phone or
// RoomCall does each thing and says what changed.
//
// in-call-view.js draws and binds the controls, in-call-devices.js fills the device lists,
// in-call-stats.js shows the connection figures, auto-hide.js fades the controls.
import { canChooseSpeaker, devicePreferences, rememberDevice } from '../sdk/capture.js';
import {
  bindInCallView,
  dialogOpen,
  handleShortcut,
  hideVideoPrompt,
  mountInCallView,
  showControls,
  showRemoteMarks,
  showSheetActions,
  showVideoPrompt,
} from './in-call-view.js';
import { fillInCallDevices } from './in-call-devices.js';
import { showFigures } from './in-call-stats.js';
import { AutoHide } from './auto-hide.js';
import { canFocus } from './dialogs.js';

/**
 * What the controls drive: the SDK's Phone or RoomCall (its in-call methods and events).
 * @typedef {import('../sdk/parley.js').Phone | import('../sdk/parley.js').RoomCall} Session
 * @typedef {import('../sdk/parley.js').MediaStatus} MediaStatus
 * @typedef {import('../sdk/parley.js').MediaWarning} MediaWarning
 * @typedef {import('../sdk/parley.js').LiveCallEventMap<unknown>} LiveEvents
 * @typedef {{key: string, params: Record<string, string>}} Notice  for the page's status line
 */

/** @type {Record<MediaWarning, string>} */
const WARNINGS = {
  'mic-gone': 'device.micGone',
  'camera-gone': 'device.cameraGone',
  'mic-failed': 'device.micFailed',
  'camera-failed': 'device.cameraFailed',
};

export class InCallView {
  /**
   * @param {object} options
   * @param {import('./call-stage.js').CallStage} options.stage
   * @param {Session} options.session
   * @param {() => MediaStream | null} options.localStream  what the call sends now
   * @param {HTMLElement} options.bar  the call bar: the controls go before its hang-up button
   * @param {() => string} options.peerName
   * @param {(notice: Notice) => void} options.notice
   */
  constructor({ stage, session, localStream, bar, peerName, notice }) {
    this.stage = stage;
    this.session = session;
    this.localStream = localStream;
    this.peerName = peerName;
    this.notice = notice;
    /** @type {MediaStatus | null} */
    this.status = null;
    /** @type {MediaDeviceInfo[]} */
    this.cameras = [];
    this.disposed = false;
    this.listening = new AbortController();
    const { controls, overlay } = mountInCallView(stage, bar);
    this.controls = controls;
    this.overlay = overlay;
    this.actions = this.#actions();
    document.addEventListener('keydown', (event) => handleShortcut(event, this.actions), { signal: this.listening.signal });
    bindInCallView(controls, overlay, stage, this.actions);
    showSheetActions(overlay);
    this.hiding = new AutoHide(/** @type {HTMLElement} */ (bar.parentElement), bar, () => this.#keepControls());
    this.#follow();
    const speaker = devicePreferences().audiooutput;
    if (speaker && canChooseSpeaker) stage.remote.setSinkId(speaker).catch(() => {});
    this.#refresh(session.mediaStatus);
    this.#fillDevices();
    // The button that led here is gone (answer, join): focus goes to whom the call is with.
    if (!canFocus(document.activeElement)) stage.name.focus();
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    this.listening.abort();
    this.hiding.dispose();
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    if (document.pictureInPictureElement) document.exitPictureInPicture().catch(() => {});
    this.controls.remove();
    this.overlay.remove();
  }

  /** The session's events, for as long as this view lives. */
  #follow() {
    const signal = this.listening.signal;
    /**
     * @template {keyof LiveEvents} K
     * @param {K} type @param {(detail: LiveEvents[K]['detail']) => void} handler
     */
    const on = (type, handler) =>
      /** @type {EventTarget} */ (this.session).addEventListener(
        type,
        (event) => handler(/** @type {LiveEvents[K]} */ (event).detail),
        { signal },
      );
    on('mediastate', (status) => this.#refresh(status));
    on('localstream', ({ stream }) => {
      this.stage.local.srcObject = stream;
    });
    on('videorequest', () => showVideoPrompt(this.overlay, this.peerName()));
    on('videoreply', ({ accepted }) => {
      if (!accepted) this.notice({ key: 'video.declined', params: { name: this.peerName() } });
    });
    on('speaking', ({ speaking }) => this.stage.setSpeaking(speaking));
    on('stats', ({ figures }) => showFigures(this.overlay, figures));
    on('devicechange', () => this.#fillDevices());
    on('warning', ({ code }) => this.notice({ key: WARNINGS[code], params: {} }));
  }

  async #fillDevices() {
    const lists = await fillInCallDevices(this.overlay, this.stage, this.localStream());
    if (!lists || this.disposed) return;
    this.cameras = lists.videoinput;
    this.#refresh(this.status);
  }

  /** Shows the buttons that apply now, and both sides' pictures and marks. @param {MediaStatus | null} status */
  #refresh(status) {
    if (!status || this.disposed) return;
    this.status = status;
    const { local, remote, sendingVideo, receivingVideo, localReady } = status;
    showControls(this.controls, { video: sendingVideo, localReady, local, cameras: this.cameras.length });
    showRemoteMarks(this.overlay, this.stage, remote, receivingVideo);
    this.stage.setLocalVideo(sendingVideo && (!local.cameraOff || local.screen));
    this.stage.setRemoteVideo(receivingVideo && !remote.cameraOff);
  }

  /** The controls stay while there is no picture to watch, or a sheet or prompt is open. */
  #keepControls() {
    return this.stage.root.classList.contains('remote-off') || dialogOpen(this.overlay);
  }

  /** The camera after the one in use (a phone's front and back). */
  #flipCamera() {
    const sent = this.localStream()?.getVideoTracks()[0]?.getSettings().deviceId;
    const at = this.cameras.findIndex((camera) => camera.deviceId === sent);
    const next = this.cameras[(at + 1) % this.cameras.length];
    if (next && next.deviceId !== sent) this.session.switchDevice('videoinput', next.deviceId);
  }

  /** @returns {import('./in-call-view.js').ControlActions} */
  #actions() {
    const session = this.session;
    return {
      toggleMute: () => session.setMuted(),
      toggleCamera: () => session.setCameraOff(),
      askForVideo: () => {
        if (session.requestVideo()) this.notice({ key: 'video.asked', params: { name: this.peerName() } });
      },
      toggleShare: () => (this.status?.local.screen ? session.stopScreenShare() : session.startScreenShare()),
      flipCamera: () => this.#flipCamera(),
      sampleStats: () => session.getStats(),
      useDevice: (kind, deviceId) => {
        if (kind !== 'audiooutput') return session.switchDevice(kind, deviceId);
        rememberDevice(kind, deviceId);
        if (canChooseSpeaker) this.stage.remote.setSinkId(deviceId).catch(() => {});
      },
      answerVideo: (accepted) => {
        hideVideoPrompt(this.overlay, /** @type {HTMLElement} */ (this.controls.querySelector('.mute')));
        session.answerVideoRequest(accepted);
      },
      hasVideo: () => this.status?.sendingVideo ?? false,
    };
  }
}
