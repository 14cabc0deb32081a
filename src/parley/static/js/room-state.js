// The room page's shared state: which room, the signaling connection, the call and its peer,
// and the local media the page holds (opened once, reused from the preview into the call).
// The other room-*.js modules and room-page.js all read and change this one object.
import { openLocalMedia, stopStream } from './media.js';
import { CallStage } from './call-stage.js';
import { $ } from './ui.js';

export const room = decodeURIComponent(location.pathname.split('/').pop() ?? '');
export const params = new URLSearchParams(location.search);

export const state = {
  /** @type {'audio' | 'video'} */
  mediaKind: params.get('media') === 'audio' ? 'audio' : 'video',
  /** @type {import('./signaling.js').Signaling | null} */
  signaling: null,
  /** @type {MediaStream | null} */
  localStream: null,
  /** @type {import('./call.js').PeerCall | null} */
  call: null,
  /** @type {import('./in-call.js').InCall | null} */
  inCall: null,
  /** @type {{id: string, ready: boolean} | null} */
  peer: null,
  // The server restarted and forgot the room: the peer comes back under a new session id.
  peerStale: false,
  inRoom: false,
  /** @type {RTCConfiguration} */
  configuration: {},
  /** Every local track this page ever opened, so tests and teardown can check all of them. */
  /** @type {MediaStreamTrack[]} */
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
  for (const track of state.call?.localStream.getTracks() ?? []) track.stop();
  for (const track of state.openedTracks) track.stop();
  state.localStream = null;
  stage.local.srcObject = null;
  /** @type {HTMLVideoElement} */ ($('preview')).srcObject = null;
}
