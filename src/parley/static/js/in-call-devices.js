// The device panel of a call that is up: filling its lists with what is plugged in now, and
// telling which track in use lost its device (unplugged, or ended by the system). Switching
// the live track stays in in-call.js, which owns the call's media state.
import { canChooseSpeaker, listDevices } from './media.js';
import { DEVICE_KINDS, fillDeviceSelect } from './device-picker.js';

/**
 * Fills the panel's lists, each with the device in use selected.
 * @param {HTMLElement} overlay  the in-call overlay (in-call-view.js)
 * @param {import('./call-stage.js').CallStage} stage
 * @param {import('./call.js').PeerCall} call
 * @returns {Promise<Record<MediaDeviceKind, MediaDeviceInfo[]> | undefined>} the lists, unless
 *   the browser would not give them
 */
export async function fillInCallDevices(overlay, stage, call) {
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
        : call.sentTrack(kind === 'audioinput' ? 'audio' : 'video')?.getSettings().deviceId;
    fillDeviceSelect(select, kind, lists[kind], inUse);
  }
  /** @type {HTMLElement} */ (overlay.querySelector('.speaker-choice')).hidden =
    !canChooseSpeaker || lists.audiooutput.length === 0;
  return lists;
}

/**
 * The track we send for `media`, if its device is gone. A shared screen is no device: never gone.
 * @param {import('./call.js').PeerCall} call
 * @param {Record<MediaDeviceKind, MediaDeviceInfo[]>} lists  as fillInCallDevices returned them
 * @param {'audio' | 'video'} media
 * @param {boolean} sharingScreen
 */
export function goneTrack(call, lists, media, sharingScreen) {
  const track = call.sentTrack(media);
  if (!track || (media === 'video' && sharingScreen)) return null;
  const kind = media === 'audio' ? 'audioinput' : 'videoinput';
  const id = track.getSettings().deviceId;
  const gone = track.readyState === 'ended' || !lists[kind].some((d) => d.deviceId === id);
  return gone ? track : null;
}
