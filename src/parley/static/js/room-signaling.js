// The room page's signaling: one connection per page, and what each server message does to the
// room and the call (a peer joining, getting ready, leaving; relayed offers, answers and
// candidates; the connection dropping, resuming, or finding the server restarted).
import { Signaling, SignalingError } from './signaling.js';
import { currentToken } from './identity.js';
import { setStatus } from './ui.js';
import { room, state } from './room-state.js';
import { closePeerConnection, endCall, endWithNotice, maybeStartCall, restoreStatus } from './room-call.js';

/**
 * @typedef {import('./signaling.js').SignalingEvents} SignalingEvents
 * @typedef {import('./signaling.js').JoinedMessage} JoinedMessage
 */

function wsUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

/** The page's connection, connected. */
export async function ensureSignaling() {
  if (state.signaling?.connected) return state.signaling;
  // One connection per page: one still reconnecting would otherwise rejoin the room as well.
  state.signaling?.close();
  const fragment = new URLSearchParams(location.hash.slice(1)).get('token');
  const signaling = new Signaling(wsUrl(), { token: fragment ?? currentToken() });
  state.signaling = signaling;
  bindPeerEvents(signaling);
  bindRelayedEvents(signaling);
  bindServerEvents(signaling);
  await signaling.connect();
  return signaling;
}

/** @param {Signaling} signaling */
function bindPeerEvents(signaling) {
  signaling.addEventListener('peer-joined', (event) => {
    const { detail } = /** @type {CustomEvent<SignalingEvents['peer-joined']>} */ (event);
    if (state.peer && state.peerStale) {
      adoptReturningPeer(detail.peer);
      return;
    }
    if (state.peer) return; // a 1:1 call: a further member waits its turn
    state.peer = { id: detail.peer, ready: false };
    setStatus('peerJoined');
  });
  signaling.addEventListener('peer-ready', (event) => {
    const { detail } = /** @type {CustomEvent<SignalingEvents['peer-ready']>} */ (event);
    if (state.peer?.id !== detail.peer) return;
    state.peer.ready = true;
    maybeStartCall();
  });
  signaling.addEventListener('peer-left', (event) => {
    const { detail } = /** @type {CustomEvent<SignalingEvents['peer-left']>} */ (event);
    if (state.peer?.id !== detail.peer) return;
    if (detail.reason === 'left') {
      endCall('peerHungUp');
    } else {
      // A dropped peer may come back: keep our media and the room, drop only the connection.
      closePeerConnection();
      state.peer = null;
      document.body.dataset.state = 'waiting';
      setStatus('peerDisconnected');
    }
  });
}

/** What the peer sends us through the server: negotiation, and in-call messages. @param {Signaling} signaling */
function bindRelayedEvents(signaling) {
  for (const type of /** @type {const} */ (['offer', 'answer'])) {
    signaling.addEventListener(type, (event) => {
      const { detail } = /** @type {CustomEvent<SignalingEvents[typeof type]>} */ (event);
      callFrom(detail.from)?.acceptDescription({ type, sdp: detail.sdp });
    });
  }
  signaling.addEventListener('candidate', (event) => {
    const { detail } = /** @type {CustomEvent<SignalingEvents['candidate']>} */ (event);
    callFrom(detail.from)?.acceptCandidate(detail.candidate);
  });
  for (const type of /** @type {const} */ (['media-state', 'video-request', 'video-reply'])) {
    signaling.addEventListener(type, (event) => {
      const { detail } = /** @type {CustomEvent<SignalingEvents[typeof type]>} */ (event);
      if (state.call && state.call.peerId === detail.from) state.inCall?.receive(type, detail);
    });
  }
}

/** The connection to the server itself. @param {Signaling} signaling */
function bindServerEvents(signaling) {
  signaling.addEventListener('reconnecting', () => {
    if (state.inRoom) setStatus('serverReconnecting');
  });
  signaling.addEventListener('resumed', () => {
    if (state.inRoom) restoreStatus();
  });
  signaling.addEventListener('renewed', (event) => {
    const { detail } = /** @type {CustomEvent<SignalingEvents['renewed']>} */ (event);
    if (!state.inRoom) return;
    if (!detail.restarted) {
      // Our session ended while we were away, and the peer was told we left: start afresh.
      closePeerConnection();
      state.peer = null;
    }
    rejoinAfterRestart(signaling);
  });
  signaling.addEventListener('closed', () => {
    if (state.inRoom) endWithNotice('serverLost', 'error', true);
  });
}

/** The server restarted and forgot us: join the room again, keeping the call. The peer does
 * the same, under a new session id, and negotiation goes on with that id.
 * @param {Signaling} signaling */
async function rejoinAfterRestart(signaling) {
  state.peerStale = state.peer !== null;
  try {
    const joined = /** @type {JoinedMessage} */ (await signaling.request({ type: 'join', room }));
    const [first] = joined.peers;
    if (first) adoptReturningPeer(first.id, first.ready);
    signaling.send({ type: 'ready' });
    restoreStatus();
    maybeStartCall();
  } catch (error) {
    const detail = error instanceof SignalingError ? `${error.code}: ${error.message}` : undefined;
    endWithNotice('serverLost', 'error', true, detail);
  }
}

/** @param {string} sessionId @param {boolean} [ready] */
function adoptReturningPeer(sessionId, ready = false) {
  if (!state.peer) {
    state.peer = { id: sessionId, ready };
    return;
  }
  state.peer.id = sessionId;
  state.peerStale = false;
  if (state.call) state.call.peerId = sessionId;
}

/** The call a relayed message belongs to; a message from anyone else is dropped. @param {string} sessionId */
function callFrom(sessionId) {
  if (!state.peer || state.peer.id !== sessionId || !state.inRoom) return null;
  if (state.call && state.call.peerId !== sessionId) return null;
  state.peer.ready = true; // it is negotiating with us, so its media is up
  return maybeStartCall();
}
