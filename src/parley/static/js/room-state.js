// The room page's state: which room, the SDK's RoomCall (made at the first join, kept for the
// next), and the local media the page holds before joining (the pre-join preview, reused in
// the call).
import { openLocalMedia, stopStream } from '../sdk/parley.js';
import { CallStage } from './call-stage.js';
import { $ } from './ui.js';

export const room = decodeURIComponent(location.pathname.split('/').pop() ?? '');
export const params = new URLSearchParams(location.search);

export const state = {
  /** @type {'audio' | 'video'} */
  mediaKind: params.get('media') === 'audio' ? 'audio' : 'video',
  /** @type {import('../sdk/parley.js').RoomCall | null} */
  call: null,
  /** @type {MediaStream | null} */
  localStream: null,
  /** @type {import('./in-call.js').InCallView | null} */
  inCall: null,
  /** Every local track this page opened (the call's own are in its diagnostics).
   * @type {MediaStreamTrack[]} */
  openedTracks: [],
};

export const stage = new CallStage($('stage'));

/** The camera and microphone for the chosen media: the open ones if they still fit. */
export async function acquireMedia() {
  const reusable =
    state.localStream?.getTracks().every((track) => track.readyState === 'live') &&
    state.localStream.getVideoTracks().length === (state.mediaKind === 'video' ? 1 : 0);
  if (!reusable) {
    stopStream(state.localStream);
    state.localStream = await openLocalMedia(state.mediaKind);
    state.openedTracks.push(...state.localStream.getTracks());
  }
  return /** @type {MediaStream} */ (state.localStream);
}

export function releaseMedia() {
  stopStream(state.localStream);
  for (const track of state.openedTracks) track.stop();
  state.localStream = null;
  stage.local.srcObject = null;
  /** @type {HTMLVideoElement} */ ($('preview')).srcObject = null;
}
