// The DOM of a call that is up: the round controls in the call bar (microphone, camera, screen
// share or flip camera, more, and the page's hang-up), the overlay on the stage (the other
// side's marks, the "turn on video?" prompt, the "more" sheet with devices, connection details,
// fullscreen, picture-in-picture and the keyboard shortcuts), their bindings, and how the
// buttons and marks show the media state. No call logic: in-call.js decides, and hands the
// buttons their actions.
import { format, translatePage } from './i18n.js';
import { DEVICE_KINDS, DEVICE_SELECTS_MARKUP } from './device-picker.js';
import { closeDialog, openDialog } from './dialogs.js';
import { icon } from './icons.js';

/** A round button: its icon (or two, by aria-pressed) and its words beneath. */
const round = (/** @type {string} */ cls, /** @type {string} */ icons, /** @type {string} */ key, attrs = '') =>
  `<button type="button" class="control round ${cls}" ${attrs}><span class="disc">${icons}</span><span class="label" data-i18n="${key}"></span></button>`;
const pair = (/** @type {Parameters<typeof icon>[0]} */ off, /** @type {Parameters<typeof icon>[0]} */ on) =>
  `<span class="when-off">${icon(off)}</span><span class="when-on">${icon(on)}</span>`;

const CONTROLS_MARKUP = [
  round('mute', pair('mic', 'micOff'), 'control.mute', 'aria-pressed="false"'),
  round('camera', pair('camera', 'cameraOff'), 'control.camera', 'aria-pressed="false"'),
  round('add-video', icon('camera'), 'control.addVideo'),
  round('share', icon('screen'), 'control.share', 'aria-pressed="false"'),
  round('flip', icon('flip'), 'control.flip'),
  round('more', icon('more'), 'control.more', 'aria-haspopup="dialog" aria-expanded="false"'),
].join('');

const MODIFIER = /Mac|iPhone|iPad/.test(navigator.userAgent) ? '⌘' : 'Ctrl';

const OVERLAY_MARKUP = `
  <div class="remote-marks" aria-live="polite">
    <span class="mark remote-muted" data-i18n="mark.muted" hidden>Muted</span>
    <span class="mark remote-screen" data-i18n="mark.screen" hidden>Sharing screen</span>
  </div>
  <div class="quality-mark" hidden></div>
  <div class="video-prompt overlay" role="alertdialog" aria-labelledby="video-prompt-text" hidden>
    <p id="video-prompt-text" class="video-prompt-text"></p>
    <div class="actions">
      <button type="button" class="primary video-accept" data-i18n="video.accept">Turn on video</button>
      <button type="button" class="video-decline" data-i18n="video.decline">Stay on voice</button>
    </div>
  </div>
  <div class="more-sheet sheet" role="dialog" aria-modal="true" aria-labelledby="more-title" hidden>
    <div class="sheet-head">
      <h2 id="more-title" data-i18n="control.moreTitle">More options</h2>
      <button type="button" class="icon-button close-sheet" data-i18n-label="control.close">${icon('close')}</button>
    </div>
    <div class="devices-panel">${DEVICE_SELECTS_MARKUP}</div>
    <div class="sheet-actions">
      <button type="button" class="control stats" aria-expanded="false" aria-controls="stats-panel" data-i18n="control.stats"></button>
      <button type="button" class="control fullscreen" data-i18n="control.fullscreen"></button>
      <button type="button" class="control pip" data-i18n="control.pip"></button>
    </div>
    <dl id="stats-panel" class="stats-panel" hidden></dl>
    <h3 data-i18n="shortcuts.title">Keyboard shortcuts</h3>
    <dl class="shortcuts">
      <dt><kbd>${MODIFIER}</kbd> + <kbd>D</kbd></dt><dd data-i18n="shortcuts.mic"></dd>
      <dt><kbd>${MODIFIER}</kbd> + <kbd>E</kbd></dt><dd data-i18n="shortcuts.camera"></dd>
    </dl>
  </div>`;

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
 * @property {() => void} flipCamera
 * @property {() => void} sampleStats
 * @property {(kind: 'audioinput' | 'videoinput' | 'audiooutput', deviceId: string) => void} useDevice
 * @property {(accepted: boolean) => void} answerVideo
 * @property {() => boolean} hasVideo
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
  bar.insertBefore(controls, bar.querySelector('.hangup'));
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
  const on = (/** @type {ParentNode} */ root, /** @type {string} */ selector, /** @type {() => void} */ action) =>
    root.querySelector(selector)?.addEventListener('click', action);
  on(controls, '.mute', () => actions.toggleMute());
  on(controls, '.camera', () => actions.toggleCamera());
  on(controls, '.add-video', () => actions.askForVideo());
  on(controls, '.share', () => actions.toggleShare());
  on(controls, '.flip', () => actions.flipCamera());
  on(controls, '.more', () => showSheet(controls, overlay, true));
  on(overlay, '.close-sheet', () => showSheet(controls, overlay, false));
  on(overlay, '.stats', () => {
    const panel = el(overlay, '.stats-panel');
    panel.hidden = !panel.hidden;
    el(overlay, '.stats').setAttribute('aria-expanded', String(!panel.hidden));
    actions.sampleStats();
  });
  on(overlay, '.fullscreen', () => {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else stage.root.parentElement?.requestFullscreen?.().catch(() => {});
  });
  on(overlay, '.pip', () => {
    if (document.pictureInPictureElement) document.exitPictureInPicture().catch(() => {});
    else stage.remote.requestPictureInPicture?.().catch(() => {});
  });
  for (const kind of DEVICE_KINDS) {
    const select = /** @type {HTMLSelectElement} */ (overlay.querySelector(`.device-${kind}`));
    select.addEventListener('change', () => actions.useDevice(kind, select.value));
  }
  on(overlay, '.video-accept', () => actions.answerVideo(true));
  on(overlay, '.video-decline', () => actions.answerVideo(false));
}

/** Opens or closes the "more" sheet; focus goes in, and back to the More button.
 * @param {HTMLElement} controls @param {HTMLElement} overlay @param {boolean} shown */
export function showSheet(controls, overlay, shown) {
  const sheet = el(overlay, '.more-sheet');
  const more = el(controls, '.more');
  more.setAttribute('aria-expanded', String(shown));
  if (shown) openDialog(sheet, { onEscape: () => showSheet(controls, overlay, false) });
  else closeDialog(sheet, more);
}

/** Whether a sheet or prompt is open (the controls stay while one is). @param {HTMLElement} overlay */
export function dialogOpen(overlay) {
  return !el(overlay, '.more-sheet').hidden || !el(overlay, '.video-prompt').hidden;
}

/**
 * Ctrl+D (⌘+D on a Mac) turns the microphone on or off, Ctrl+E the camera (in a voice call: asks
 * for video), as in other call apps. Never a key alone: a bare key is someone typing.
 * @param {KeyboardEvent} event @param {ControlActions} actions
 */
export function handleShortcut(event, actions) {
  if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey) return;
  const key = event.key.toLowerCase();
  if (key === 'd') actions.toggleMute();
  else if (key === 'e') {
    if (actions.hasVideo()) actions.toggleCamera();
    else actions.askForVideo();
  } else return;
  event.preventDefault();
}

/**
 * Shows the buttons that apply now and how they stand.
 * @param {HTMLElement} controls
 * @param {{video: boolean, localReady: boolean, local: MediaState, cameras: number}} now
 */
export function showControls(controls, { video, localReady, local, cameras }) {
  const canShare = !!navigator.mediaDevices?.getDisplayMedia;
  el(controls, '.camera').hidden = !video;
  el(controls, '.share').hidden = !video || !canShare;
  el(controls, '.flip').hidden = !video || canShare || cameras < 2 || local.screen || local.cameraOff;
  // Until our camera and microphone are in (the callee's open while the call connects),
  // there is nothing to add video to.
  el(controls, '.add-video').hidden = video || !localReady;
  el(controls, '.mute').setAttribute('aria-pressed', String(local.muted));
  el(controls, '.camera').setAttribute('aria-pressed', String(local.cameraOff));
  el(controls, '.share').setAttribute('aria-pressed', String(local.screen));
}

/** Hides what this browser cannot do (in the sheet). @param {HTMLElement} overlay */
export function showSheetActions(overlay) {
  el(overlay, '.pip').hidden = !document.pictureInPictureEnabled;
  el(overlay, '.fullscreen').hidden = !document.fullscreenEnabled;
}

/**
 * The other side's marks, on the overlay and on the stage (styles and tests read the latter).
 * @param {HTMLElement} overlay @param {CallStage} stage @param {MediaState} remote
 * @param {boolean} receivingVideo  whether a camera-off mark would cover any video at all
 */
export function showRemoteMarks(overlay, stage, remote, receivingVideo) {
  el(overlay, '.remote-muted').hidden = !remote.muted;
  el(overlay, '.remote-screen').hidden = !remote.screen;
  el(stage.root, '.remote-camera-off').hidden = !remote.cameraOff || !receivingVideo;
  el(stage.root, '.voice-badge').hidden = receivingVideo;
  stage.root.dataset.remoteMuted = String(remote.muted);
  stage.root.dataset.remoteCameraOff = String(remote.cameraOff);
}

/** @param {HTMLElement} overlay @param {string} name  who asks */
export function showVideoPrompt(overlay, name) {
  const prompt = el(overlay, '.video-prompt');
  const text = el(prompt, '.video-prompt-text');
  text.dataset.i18n = 'video.request'; // said again in a new language (translatePage)
  text.dataset.name = name;
  text.textContent = format('video.request', { name });
  openDialog(prompt, { first: el(prompt, '.video-accept'), modal: false });
}

/** @param {HTMLElement} overlay @param {HTMLElement | null} fallback  focus goes here if it was in the prompt */
export function hideVideoPrompt(overlay, fallback) {
  closeDialog(el(overlay, '.video-prompt'), fallback);
}
