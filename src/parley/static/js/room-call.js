// The room page's call: starting it once both sides are in the room and ready, and every way
// it ends (hang-up, the peer leaving, the server lost, media refused), leaving no connection,
// track or timer behind.
import { format } from './i18n.js';
import { MediaStartError } from './media.js';
import { PeerCall } from './call.js';
import { InCall } from './in-call.js';
import { $, setStatus, showNotice } from './ui.js';
import { releaseMedia, stage, state } from './room-state.js';

/** Starts the call if both sides are ready; the call, if there is one. */
export function maybeStartCall() {
  if (state.call) return state.call;
  const signaling = state.signaling;
  if (!signaling || !state.inRoom || !state.peer?.ready || !state.localStream) return null;
  const call = new PeerCall({
    send: (message) => signaling.send(message),
    peerId: state.peer.id,
    polite: /** @type {string} */ (signaling.sessionId) < state.peer.id,
    localStream: state.localStream,
    configuration: state.configuration,
  });
  state.call = call;
  stage.attach(call);
  call.addEventListener('error', (event) => {
    console.warn('negotiation error', /** @type {CustomEvent<unknown>} */ (event).detail);
  });
  const inCall = new InCall({
    stage,
    call,
    bar: /** @type {HTMLElement} */ (document.querySelector('#screen-call .callbar')),
    relay: (message) => state.signaling?.send({ ...message, to: call.peerId }),
    trackOpened: (track) => state.openedTracks.push(track),
    peerName: () => '—',
    hangUp: () => hangUp(),
  });
  inCall.addEventListener('notice', (event) => {
    const { detail } = /** @type {CustomEvent<import('./in-call.js').Notice>} */ (event);
    $('status').textContent = format(detail.key, detail.params);
  });
  state.inCall = inCall;
  setStatus('negotiating');
  call.start();
  return call;
}

export function restoreStatus() {
  const connected = state.call?.pc.connectionState === 'connected';
  setStatus(connected ? 'inCall' : state.peer ? 'negotiating' : 'waiting');
}

export function closePeerConnection() {
  state.peerStale = false;
  if (state.inCall) {
    // The connection's summary, stored for this room session (the server checks we are in it).
    if (state.inRoom) state.signaling?.send({ type: 'quality', ...state.inCall.summary() });
    state.inCall.dispose();
    state.inCall = null;
  }
  state.call?.close();
  state.call = null;
  const local = stage.local.srcObject;
  stage.clear();
  // A dropped peer may come back: the local preview stays while we are still in the room.
  if (state.inRoom) stage.local.srcObject = local;
}

/** Ends the call on this side: connection, tracks and timers all go; the socket stays. @param {string} reason */
export function endCall(reason) {
  closePeerConnection();
  // Leave on either side's hang-up, so the room is free and "call again" can rejoin it.
  if (state.inRoom) state.signaling?.send({ type: 'leave' });
  state.inRoom = false;
  state.peer = null;
  releaseMedia();
  showNotice(reason, { state: 'ended', canRetry: true });
}

/** @param {string} key @param {string} bodyState @param {boolean} canRetry @param {string} [detail] */
export function endWithNotice(key, bodyState, canRetry, detail) {
  closePeerConnection();
  state.inRoom = false;
  state.peer = null;
  releaseMedia();
  state.signaling?.close();
  state.signaling = null;
  showNotice(key, { state: bodyState, canRetry, detail });
}

/** @param {unknown} error */
export function failOnMedia(error) {
  const reason = error instanceof MediaStartError ? error.reason : 'mediaFailed';
  endWithNotice(reason, 'media-error', reason !== 'insecure');
}

export function hangUp() {
  endCall('youHungUp');
}
