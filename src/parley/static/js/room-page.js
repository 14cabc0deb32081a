// The call page at /r/{room}: pre-join preview, then one call in the room, then a clean end.
import { bindLocaleSelect, format, translatePage } from './i18n.js';
import { Signaling, SignalingError } from './signaling.js';
import { MediaStartError, openLocalMedia, stopStream } from './media.js';
import { PeerCall } from './call.js';
import { CallStage } from './call-stage.js';
import { InCall } from './in-call.js';
import { bindDevicePicker } from './device-picker.js';
import { $, setStatus, showNotice, showScreen } from './ui.js';

const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const room = decodeURIComponent(location.pathname.split('/').pop() ?? '');
const params = new URLSearchParams(location.search);

const state = {
  /** @type {'audio' | 'video'} */
  mediaKind: params.get('media') === 'audio' ? 'audio' : 'video',
  /** @type {Signaling | null} */
  signaling: null,
  /** @type {MediaStream | null} */
  localStream: null,
  /** @type {PeerCall | null} */
  call: null,
  /** @type {InCall | null} */
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

const stage = new CallStage($('stage'));

function wsUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

async function acquireMedia() {
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

// --- pre-join ------------------------------------------------------------------------------

async function showPrejoin() {
  showScreen('prejoin', 'prejoin');
  for (const radio of document.querySelectorAll('input[name="media"]')) {
    const input = /** @type {HTMLInputElement} */ (radio);
    input.checked = input.value === state.mediaKind;
  }
  await refreshPreview();
}

async function refreshPreview() {
  const preview = /** @type {HTMLVideoElement} */ ($('preview'));
  try {
    const stream = await acquireMedia();
    preview.srcObject = stream;
    $('preview-box').classList.toggle('voice-only', state.mediaKind === 'audio');
    // Labels are only readable once the page may use media: fill the lists after that.
    await bindDevicePicker($('device-settings'), (kind) => {
      if (kind !== 'audiooutput') reopenPreview();
    });
  } catch (error) {
    failOnMedia(error);
  }
}

/** A device was chosen before joining: open it now, so the preview shows what will be sent. */
async function reopenPreview() {
  stopStream(state.localStream);
  state.localStream = null;
  await refreshPreview();
}

// --- joining and the call ------------------------------------------------------------------

async function join() {
  showScreen('call', 'connecting');
  setStatus('media');
  let stream;
  try {
    stream = await acquireMedia();
  } catch (error) {
    failOnMedia(error);
    return;
  }
  stage.showLocal(stream, state.mediaKind);

  setStatus('connecting');
  try {
    const signaling = await ensureSignaling();
    const joined = await signaling.request({ type: 'join', room });
    state.inRoom = true;
    const [first] = joined.peers;
    state.peer = first ? { id: first.id, ready: first.ready } : null;
    state.configuration = await signaling.iceConfiguration();
    signaling.send({ type: 'ready' });
    document.body.dataset.state = 'waiting';
    setStatus(state.peer ? 'peerJoined' : 'waiting');
    maybeStartCall();
  } catch (error) {
    if (error instanceof SignalingError && error.code === 'room-full') {
      releaseMedia();
      showNotice('roomFull', { state: 'room-full', canRetry: false });
    } else if (error instanceof SignalingError && error.code !== 'closed') {
      endWithNotice('error', 'error', true, `${error.code}: ${error.message}`);
    } else {
      endWithNotice('serverLost', 'error', true);
    }
  }
}

async function ensureSignaling() {
  if (state.signaling?.connected) return state.signaling;
  // One connection per page: one still reconnecting would otherwise rejoin the room as well.
  state.signaling?.close();
  const fragment = new URLSearchParams(location.hash.slice(1)).get('token');
  const signaling = new Signaling(wsUrl(), { token: fragment ?? localStorage.getItem('parley.token') });
  state.signaling = signaling;
  signaling.addEventListener('peer-joined', ({ detail }) => {
    if (state.peer && state.peerStale) {
      adoptReturningPeer(detail.peer);
      return;
    }
    if (state.peer) return; // a 1:1 call: a further member waits its turn
    state.peer = { id: detail.peer, ready: false };
    setStatus('peerJoined');
  });
  signaling.addEventListener('peer-ready', ({ detail }) => {
    if (state.peer?.id !== detail.peer) return;
    state.peer.ready = true;
    maybeStartCall();
  });
  for (const type of ['offer', 'answer']) {
    signaling.addEventListener(type, ({ detail }) => {
      callFrom(detail.from)?.acceptDescription({ type, sdp: detail.sdp });
    });
  }
  signaling.addEventListener('candidate', ({ detail }) => {
    callFrom(detail.from)?.acceptCandidate(detail.candidate);
  });
  for (const type of ['media-state', 'video-request', 'video-reply']) {
    signaling.addEventListener(type, ({ detail }) => {
      if (state.call && state.call.peerId === detail.from) state.inCall?.receive(type, detail);
    });
  }
  signaling.addEventListener('peer-left', ({ detail }) => {
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
  signaling.addEventListener('reconnecting', () => {
    if (state.inRoom) setStatus('serverReconnecting');
  });
  signaling.addEventListener('resumed', () => {
    if (state.inRoom) restoreStatus();
  });
  signaling.addEventListener('renewed', ({ detail }) => {
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
  await signaling.connect();
  return signaling;
}

function restoreStatus() {
  const connected = state.call?.pc.connectionState === 'connected';
  setStatus(connected ? 'inCall' : state.peer ? 'negotiating' : 'waiting');
}

/** The server restarted and forgot us: join the room again, keeping the call. The peer does
 * the same, under a new session id, and negotiation goes on with that id. */
async function rejoinAfterRestart(signaling) {
  state.peerStale = state.peer !== null;
  try {
    const joined = await signaling.request({ type: 'join', room });
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

/** The call a relayed message belongs to; a message from anyone else is dropped. */
function callFrom(sessionId) {
  if (!state.peer || state.peer.id !== sessionId || !state.inRoom) return null;
  if (state.call && state.call.peerId !== sessionId) return null;
  state.peer.ready = true; // it is negotiating with us, so its media is up
  return maybeStartCall();
}

function maybeStartCall() {
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
  call.addEventListener('error', ({ detail }) => console.warn('negotiation error', detail));
  const inCall = new InCall({
    stage,
    call,
    bar: /** @type {HTMLElement} */ (document.querySelector('#screen-call .callbar')),
    relay: (message) => state.signaling?.send({ ...message, to: call.peerId }),
    trackOpened: (track) => state.openedTracks.push(track),
    peerName: () => '—',
    hangUp: () => hangUp(),
  });
  inCall.addEventListener('notice', ({ detail }) => {
    $('status').textContent = format(detail.key, detail.params);
  });
  state.inCall = inCall;
  setStatus('negotiating');
  call.start();
  return call;
}


function closePeerConnection() {
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

function releaseMedia() {
  stopStream(state.localStream);
  for (const track of state.call?.localStream.getTracks() ?? []) track.stop();
  for (const track of state.openedTracks) track.stop();
  state.localStream = null;
  stage.local.srcObject = null;
  /** @type {HTMLVideoElement} */ ($('preview')).srcObject = null;
}

/** Ends the call on this side: connection, tracks and timers all go; the socket stays. */
function endCall(reason) {
  closePeerConnection();
  // Leave on either side's hang-up, so the room is free and "call again" can rejoin it.
  if (state.inRoom) state.signaling?.send({ type: 'leave' });
  state.inRoom = false;
  state.peer = null;
  releaseMedia();
  showNotice(reason, { state: 'ended', canRetry: true });
}

/** @param {string} key @param {string} bodyState @param {boolean} canRetry @param {string} [detail] */
function endWithNotice(key, bodyState, canRetry, detail) {
  closePeerConnection();
  state.inRoom = false;
  state.peer = null;
  releaseMedia();
  state.signaling?.close();
  state.signaling = null;
  showNotice(key, { state: bodyState, canRetry, detail });
}

/** @param {unknown} error */
function failOnMedia(error) {
  const reason = error instanceof MediaStartError ? error.reason : 'mediaFailed';
  endWithNotice(reason, 'media-error', reason !== 'insecure');
}

function hangUp() {
  endCall('youHungUp');
}

// --- page set-up ---------------------------------------------------------------------------

function bindControls() {
  $('join-button').addEventListener('click', () => join());
  $('hangup-button').addEventListener('click', () => hangUp());
  $('again-button').addEventListener('click', () => join());
  for (const radio of document.querySelectorAll('input[name="media"]')) {
    radio.addEventListener('change', (event) => {
      state.mediaKind = /** @type {HTMLInputElement} */ (event.target).value === 'audio' ? 'audio' : 'video';
      refreshPreview();
    });
  }
  $('copy-link').addEventListener('click', async () => {
    const link = `${location.origin}/r/${room}`;
    try {
      await navigator.clipboard.writeText(link);
      $('copy-link').dataset.i18n = 'linkCopied';
      translatePage($('copy-link').parentElement ?? document);
    } catch {
      window.prompt('', link);
    }
  });
  window.addEventListener('pagehide', () => {
    closePeerConnection();
    releaseMedia();
    state.signaling?.close();
  });
  // The network changed (Wi-Fi back, another network): both paths may be stale.
  window.addEventListener('online', () => {
    state.signaling?.reconnectNow();
    state.call?.restartIce();
  });
}

function main() {
  bindLocaleSelect(/** @type {HTMLSelectElement} */ ($('locale')));
  $('room-name').textContent = room;
  bindControls();
  if (!ROOM_NAME.test(room)) {
    showNotice('badRoom', { state: 'error', canRetry: false });
  } else if (!window.isSecureContext) {
    showNotice('insecure', { state: 'insecure', canRetry: false });
  } else if (params.get('autojoin') === '1') {
    join();
  } else {
    showPrejoin();
  }
}

// A read-only handle for diagnostics in the console, and for the end-to-end tests.
window.parley = {
  get pc() {
    return state.call?.pc ?? null;
  },
  get sessionId() {
    return state.signaling?.sessionId ?? null;
  },
  get openedTracks() {
    return state.openedTracks;
  },
  get timerCount() {
    return stage.timerCount + (state.inCall?.timerCount ?? 0);
  },
  get inCall() {
    const inCall = state.inCall;
    return inCall ? { local: inCall.local, remote: inCall.remote, stats: inCall.stats.latest } : null;
  },
  get inRoom() {
    return state.inRoom;
  },
  get iceRestarts() {
    return state.call?.iceRestarts ?? 0;
  },
  get lastSeq() {
    return state.signaling?.lastSeq ?? 0;
  },
  get connected() {
    return state.signaling?.connected ?? false;
  },
  get peerId() {
    return state.call?.peerId ?? null;
  },
  /** Tests: the socket dies under us (not a goodbye), as on a network blip. */
  dropSignaling() {
    state.signaling?.ws?.close(4000, 'dropped');
  },
};

main();
