// The microphone / camera / speaker lists, before a call (remembered for the next one) and
// during it (in-call-media.js switches the live track). Labels appear once the page may use media.
import { t, translatePage } from './i18n.js';
import { canChooseSpeaker, devicePreferences, listDevices, rememberDevice } from '../sdk/capture.js';

export const DEVICE_KINDS = /** @type {const} */ (['audioinput', 'videoinput', 'audiooutput']);

/** The three lists, as the pre-call settings and the in-call panel both show them. */
export const DEVICE_SELECTS_MARKUP = `
  <label><span data-i18n="device.microphone">Microphone</span> <select class="device-audioinput"></select></label>
  <label><span data-i18n="device.camera">Camera</span> <select class="device-videoinput"></select></label>
  <label class="speaker-choice"><span data-i18n="device.speaker">Speaker</span> <select class="device-audiooutput"></select></label>`;

/**
 * @param {HTMLSelectElement} select
 * @param {'audioinput' | 'videoinput' | 'audiooutput'} kind
 * @param {MediaDeviceInfo[]} devices
 * @param {string | undefined} selected
 */
export function fillDeviceSelect(select, kind, devices, selected) {
  select.replaceChildren(
    ...devices.map((device, index) => {
      const option = document.createElement('option');
      option.value = device.deviceId;
      option.textContent = device.label || `${t(`device.${kind}`)} ${index + 1}`;
      option.selected = device.deviceId === selected;
      return option;
    }),
  );
}

/**
 * Fills the `.device-<kind>` selects under `root` with the remembered choices and remembers
 * each new one. The speaker list is hidden where the browser cannot route audio (no setSinkId).
 * @param {HTMLElement} root
 * @param {(kind: 'audioinput' | 'videoinput' | 'audiooutput', deviceId: string) => void} [changed]
 */
export async function bindDevicePicker(root, changed) {
  if (!root.querySelector('.device-audioinput')) {
    root.insertAdjacentHTML('beforeend', DEVICE_SELECTS_MARKUP);
    translatePage(root);
  }
  let lists;
  try {
    lists = await listDevices();
  } catch {
    root.hidden = true;
    return;
  }
  const prefs = devicePreferences();
  for (const kind of DEVICE_KINDS) {
    const select = /** @type {HTMLSelectElement | null} */ (root.querySelector(`.device-${kind}`));
    if (!select) continue;
    fillDeviceSelect(select, kind, lists[kind], prefs[kind]);
    if (!select.dataset.bound) {
      select.dataset.bound = 'yes';
      select.addEventListener('change', () => {
        rememberDevice(kind, select.value);
        changed?.(kind, select.value);
      });
    }
  }
  const speaker = /** @type {HTMLElement | null} */ (root.querySelector('.speaker-choice'));
  if (speaker) speaker.hidden = !canChooseSpeaker || lists.audiooutput.length === 0;
}
