// The DOM of a call that is up: the control buttons in the call bar, the overlay on the stage
// (remote marks, the "turn on video?" prompt, side panels), their click and keyboard bindings,
// and how the buttons and marks show the media state. No call logic: in-call.js decides, and
// hands the buttons their actions.
import { format, t, translatePage } from './i18n.js';
import { DEVICE_KINDS, DEVICE_SELECTS_MARKUP } from './device-picker.js';

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
 * @typedef {import('./call-stage.js').CallStage} CallStage
 * @typedef {{muted: boolean, cameraOff: boolean, screen: boolean}} MediaState
 */

/**
 * What the buttons and shortcuts do; InCall supplies these, so its state stays its own.
 * @typedef {object} ControlActions
 * @property {() => void} toggleMute
 * @property {() => void} toggleCamera
 * @property {() => void} askForVideo
 * @property {() => void} toggleShare
 * @property {() => void} sampleStats
 * @property {(kind: 'audioinput' | 'videoinput' | 'audiooutput', deviceId: string) => void} useDevice
 * @property {(accepted: boolean) => void} answerVideo
 * @property {() => boolean} hasVideo
 * @property {() => void} hangUp
 */

/** @param {ParentNode} root @param {string} selector */
const el = (root, selector) => /** @type {HTMLElement} */ (root.querySelector(selector));

/**
 * Puts the controls before the call bar's hang-up button and the overlay on the stage.
 * @param {CallStage} stage @param {HTMLElement} bar
 */
export function mountInCallView(stage, bar) {
  const controls = document.createElement('div');
  controls.className = 'controls';
  controls.innerHTML = CONTROLS_MARKUP;
  bar.insertBefore(controls, bar.querySelector('.danger'));
  const overlay = document.createElement('div');
  overlay.className = 'in-call-overlay';
  overlay.innerHTML = OVERLAY_MARKUP;
  stage.root.append(overlay);
  translatePage(controls);
  translatePage(overlay);
  return { controls, overlay };
}

/**
 * @param {HTMLElement} controls @param {HTMLElement} overlay @param {CallStage} stage
 * @param {ControlActions} actions
 */
export function bindInCallView(controls, overlay, stage, actions) {
  const on = (/** @type {string} */ selector, /** @type {() => void} */ action) =>
    controls.querySelector(selector)?.addEventListener('click', action);
  on('.mute', () => actions.toggleMute());
  on('.camera', () => actions.toggleCamera());
  on('.add-video', () => actions.askForVideo());
  on('.share', () => actions.toggleShare());
  on('.devices', () => togglePanel(controls, overlay, '.devices', '.devices-panel'));
  on('.stats', () => {
    togglePanel(controls, overlay, '.stats', '.stats-panel');
    actions.sampleStats();
  });
  on('.fullscreen', () => {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else stage.root.requestFullscreen?.().catch(() => {});
  });
  on('.pip', () => {
    if (document.pictureInPictureElement) document.exitPictureInPicture().catch(() => {});
    else stage.remote.requestPictureInPicture?.().catch(() => {});
  });
  for (const kind of DEVICE_KINDS) {
    const select = /** @type {HTMLSelectElement} */ (overlay.querySelector(`.device-${kind}`));
    select.addEventListener('change', () => actions.useDevice(kind, select.value));
  }
  overlay.querySelector('.video-accept')?.addEventListener('click', () => actions.answerVideo(true));
  overlay.querySelector('.video-decline')?.addEventListener('click', () => actions.answerVideo(false));
}

/**
 * M mutes, V toggles the camera (or asks for video in a voice call), H hangs up. Not while
 * typing in a field, and not with a modifier (those are the browser's).
 * @param {KeyboardEvent} event @param {ControlActions} actions
 */
export function handleShortcut(event, actions) {
  const target = /** @type {HTMLElement | null} */ (event.target);
  if (event.ctrlKey || event.metaKey || event.altKey || target?.closest('input, select, textarea')) return;
  const key = event.key.toLowerCase();
  if (key === 'm') actions.toggleMute();
  else if (key === 'v') {
    if (actions.hasVideo()) actions.toggleCamera();
    else actions.askForVideo();
  } else if (key === 'h') actions.hangUp();
  else return;
  event.preventDefault();
}

/**
 * Shows the buttons that apply now and how they stand.
 * @param {HTMLElement} controls
 * @param {{video: boolean, localReady: boolean, local: MediaState}} now
 */
export function showControls(controls, { video, localReady, local }) {
  el(controls, '.camera').hidden = !video;
  el(controls, '.share').hidden = !video || !navigator.mediaDevices?.getDisplayMedia;
  // Until our camera and microphone are in (the callee's open while the call connects),
  // there is nothing to add video to.
  el(controls, '.add-video').hidden = video || !localReady;
  el(controls, '.pip').hidden = !document.pictureInPictureEnabled;
  press(controls, '.mute', local.muted, local.muted ? 'control.unmute' : 'control.mute');
  press(controls, '.camera', local.cameraOff, local.cameraOff ? 'control.cameraOn' : 'control.cameraOff');
  press(controls, '.share', local.screen, local.screen ? 'control.stopShare' : 'control.share');
}

/**
 * The other side's marks, on the overlay and on the stage (styles and tests read the latter).
 * @param {HTMLElement} overlay @param {CallStage} stage @param {MediaState} remote
 * @param {boolean} receivingVideo  whether a camera-off mark would cover any video at all
 */
export function showRemoteMarks(overlay, stage, remote, receivingVideo) {
  el(overlay, '.remote-muted').hidden = !remote.muted;
  el(overlay, '.remote-screen').hidden = !remote.screen;
  el(overlay, '.remote-camera-off').hidden = !remote.cameraOff || !receivingVideo;
  stage.root.dataset.remoteMuted = String(remote.muted);
  stage.root.dataset.remoteCameraOff = String(remote.cameraOff);
}

/** @param {HTMLElement} overlay @param {string} name  who asks */
export function showVideoPrompt(overlay, name) {
  const prompt = el(overlay, '.video-prompt');
  el(prompt, '.video-prompt-text').textContent = format('video.request', { name });
  prompt.hidden = false;
}

/** @param {HTMLElement} overlay */
export function hideVideoPrompt(overlay) {
  el(overlay, '.video-prompt').hidden = true;
}

/** @param {HTMLElement} controls @param {HTMLElement} overlay @param {string} button @param {string} panel */
function togglePanel(controls, overlay, button, panel) {
  const element = el(overlay, panel);
  element.hidden = !element.hidden;
  controls.querySelector(button)?.setAttribute('aria-expanded', String(!element.hidden));
}

/**
 * The label follows the state (Mute / Unmute), by i18n key so a language switch re-renders it.
 * @param {HTMLElement} controls @param {string} selector @param {boolean} pressed @param {string} key
 */
function press(controls, selector, pressed, key) {
  const button = el(controls, selector);
  button.setAttribute('aria-pressed', String(pressed));
  button.dataset.i18n = key;
  button.textContent = t(key);
}
