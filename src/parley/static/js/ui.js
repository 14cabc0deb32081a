// The call page's DOM: which screen shows, the status line, notices. No call logic here.
import { format, t } from './i18n.js';

const SCREENS = ['prejoin', 'call', 'notice'];

/** @param {string} id */
export const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * `state` lands on <body data-state>, which styles and tests read.
 * @param {'prejoin' | 'call' | 'notice'} screen
 * @param {string} state
 */
export function showScreen(screen, state) {
  for (const name of SCREENS) $(`screen-${name}`).hidden = name !== screen;
  document.body.dataset.state = state;
  document.body.dataset.screen = screen;
}

/** Shows a status line by i18n key, so a language switch re-renders it. @param {string} key */
export function setStatus(key) {
  const status = $('status');
  status.dataset.i18n = `status.${key}`;
  status.textContent = t(`status.${key}`);
}

/**
 * A status line with values in it ("Bo declined video"): kept as its key and values, so a
 * language switch says it again in the new language.
 * @param {string} key @param {Record<string, string>} values
 */
export function setStatusWords(key, values) {
  const status = $('status');
  for (const name of Object.keys(status.dataset)) delete status.dataset[name];
  Object.assign(status.dataset, values, { i18n: key });
  status.textContent = format(key, values);
}

/**
 * A full-screen notice: call ended, room full, no camera access, …
 * @param {string} key  e.g. 'roomFull' → notice.roomFull.title / .text
 * @param {{state: string, canRetry: boolean, detail?: string}} options
 */
export function showNotice(key, { state, canRetry, detail }) {
  const title = $('notice-title');
  const text = $('notice-text');
  title.dataset.i18n = `notice.${key}.title`;
  title.textContent = t(`notice.${key}.title`);
  if (detail) {
    delete text.dataset.i18n;
    text.textContent = detail;
  } else {
    text.dataset.i18n = `notice.${key}.text`;
    text.textContent = t(`notice.${key}.text`);
  }
  $('notice').dataset.reason = key;
  $('again-button').hidden = !canRetry;
  showScreen('notice', state);
}

/** @param {number} seconds */
export function formatDuration(seconds) {
  const s = Math.floor(seconds % 60).toString().padStart(2, '0');
  const m = Math.floor((seconds / 60) % 60).toString().padStart(2, '0');
  const h = Math.floor(seconds / 3600);
  return h > 0 ? `${h}:${m}:${s}` : `${m}:${s}`;
}

/**
 * Plays a media element; if autoplay with sound is refused, offers a button to start it.
 * @param {HTMLMediaElement} element @param {HTMLElement} button
 */
export async function playWithSound(element, button) {
  try {
    await element.play();
    button.hidden = true;
  } catch {
    button.hidden = false;
    button.onclick = () => {
      element.play().then(() => (button.hidden = true), () => {});
    };
  }
}
