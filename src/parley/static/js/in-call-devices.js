// The device panel of a call that is up: its lists filled with what is plugged in now, the
// device in use selected. Switching the live track is the SDK's (switchDevice).
import { canChooseSpeaker, listDevices } from '../sdk/capture.js';
import { DEVICE_KINDS, fillDeviceSelect } from './device-picker.js';

/**
 * Fills the panel's lists, each with the device in use selected.
 * @param {HTMLElement} overlay  the in-call overlay (in-call-view.js)
 * @param {import('./call-stage.js').CallStage} stage
 * @param {MediaStream | null} sent  what the call sends now
 * @returns {Promise<Record<MediaDeviceKind, MediaDeviceInfo[]> | undefined>} the lists, unless
 *   the browser would not give them
 */
export async function fillInCallDevices(overlay, stage, sent) {
  let lists;
  try {
    lists = await listDevices();
  } catch {
    return;
  }
  for (const kind of DEVICE_KINDS) {
    const select = /** @type {HTMLSelectElement} */ (overlay.querySelector(`.device-${kind}`));
    const inUse =
      kind === 'audiooutput'
        ? stage.remote.sinkId || 'default'
        : (kind === 'audioinput' ? sent?.getAudioTracks() : sent?.getVideoTracks())?.[0]?.getSettings().deviceId;
    fillDeviceSelect(select, kind, lists[kind], inUse);
  }
  /** @type {HTMLElement} */ (overlay.querySelector('.speaker-choice')).hidden =
    !canChooseSpeaker || lists.audiooutput.length === 0;
  return lists;
}
