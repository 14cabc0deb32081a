// The call page at /r/{room}: pre-join preview, then one call in the room, then a clean end.
// A view on the SDK's RoomCall (../sdk/room.js does the call): the pre-join screen, the page's
// buttons, the call's events as screens and status lines, and the debug handle.
// room-state.js holds the page's state and local media.
import { bindLocaleSelect, t, translatePage } from './i18n.js';
import { MediaStartError, ParleyError, RoomCall, browserCanCall, stopStream } from '../sdk/parley.js';
import { currentToken, takeHostToken } from './identity.js';
import { bindDevicePicker } from './device-picker.js';
import { InCallView } from './in-call.js';
import { $, setStatus, setStatusWords, showNotice, showScreen } from './ui.js';
import { acquireMedia, params, releaseMedia, room, stage, state } from './room-state.js';
import { Embedding } from './embed.js';
import { placeIcons } from './icons.js';

/** @typedef {import('../sdk/parley.js').RoomEventMap} RoomEventMap */

const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const embedding = new Embedding((command) => {
  if (command.command === 'token') takeHostToken(command.token);
  else if (command.command === 'hangup') state.call?.hangup();
  else if (command.command === 'mute') state.call?.setMuted(command.muted);
});

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

// --- joining -------------------------------------------------------------------------------

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
  stage.setPeer(null, t('otherPerson'), 'otherPerson');
  setStatus('connecting');
  const call = roomCall();
  try {
    await call.join({ media: state.mediaKind, stream });
  } catch (error) {
    releaseMedia();
    if (error instanceof ParleyError && error.code === 'room-full') {
      showNotice('roomFull', { state: 'room-full', canRetry: false });
    } else if (error instanceof MediaStartError) {
      failOnMedia(error);
    } else if (error instanceof ParleyError && error.code !== 'closed') {
      showNotice('error', { state: 'error', canRetry: true, detail: `${error.code}: ${error.message}` });
    } else {
      showNotice('serverLost', { state: 'error', canRetry: true });
    }
  }
}

/** The page's RoomCall, made at the first join (with the identity known by then). */
function roomCall() {
  if (state.call) return state.call;
  const fragment = new URLSearchParams(location.hash.slice(1)).get('token');
  const call = new RoomCall({ room, token: fragment ?? currentToken() });
  state.call = call;
  /**
   * @template {keyof RoomEventMap} K
   * @param {K} type @param {(detail: RoomEventMap[K]['detail']) => void} handler
   */
  const on = (type, handler) => call.addEventListener(type, (event) => handler(/** @type {RoomEventMap[K]} */ (event).detail));
  on('joined', ({ peers }) => {
    document.body.dataset.state = 'waiting';
    setStatus(peers > 0 ? 'peerJoined' : 'waiting');
  });
  on('peerjoined', () => setStatus('peerJoined'));
  on('accepted', () => startView(call));
  on('remotestream', ({ stream }) => stage.showRemote(stream));
  on('connectionstate', ({ state: now }) => stage.connectionState(now));
  on('connected', () => stage.connected());
  on('reconnecting', () => stage.reconnecting());
  on('trouble', ({ trouble }) => stage.trouble(trouble));
  on('peerleft', () => {
    // A dropped peer may come back: the local preview stays while we are still in the room.
    stopView();
    stage.local.srcObject = call.localStream;
    document.body.dataset.state = 'waiting';
    setStatus('peerDisconnected');
  });
  on('connection', ({ state: link }) => {
    if (!call.diagnostics.inRoom) return;
    if (link === 'reconnecting') setStatus('serverReconnecting');
    else restoreStatus(call);
  });
  on('rejoined', () => restoreStatus(call));
  on('ended', ({ reason, by, error, duration }) => {
    stopView();
    releaseMedia();
    embedding.post('ended', { room, reason, by: by === call.sessionId ? 'me' : 'peer', duration });
    if (reason === 'hangup') {
      showNotice(by === call.sessionId ? 'youHungUp' : 'peerHungUp', { state: 'ended', canRetry: true });
    } else if (reason === 'media-failed') {
      showNotice('callDropped', { state: 'ended', canRetry: true });
    } else {
      const detail = error instanceof ParleyError ? `${error.code}: ${error.message}` : undefined;
      showNotice('serverLost', { state: 'error', canRetry: true, detail });
    }
  });
  return call;
}

/** @param {RoomCall} call */
function startView(call) {
  stopView();
  // A room's members are anonymous to each other: the other person has no name here.
  stage.setPeer(null, t('otherPerson'), 'otherPerson');
  state.inCall = new InCallView({
    stage,
    session: call,
    localStream: () => call.localStream,
    bar: /** @type {HTMLElement} */ (document.querySelector('#screen-call .callbar')),
    peerName: () => t('otherPerson'),
    notice: ({ key, params }) => setStatusWords(key, params),
  });
  setStatus('negotiating');
  embedding.post('accepted', { room });
}

function stopView() {
  state.inCall?.dispose();
  state.inCall = null;
  stage.clear();
}

/** @param {RoomCall} call */
function restoreStatus(call) {
  const connected = call.pc?.connectionState === 'connected';
  setStatus(connected ? 'inCall' : call.hasPeer ? 'negotiating' : 'waiting');
}

/** @param {unknown} error */
function failOnMedia(error) {
  const reason = error instanceof MediaStartError ? error.reason : 'mediaFailed';
  releaseMedia();
  state.call?.close();
  state.call = null;
  showNotice(reason, { state: 'media-error', canRetry: reason !== 'insecure' });
}

// --- page set-up ---------------------------------------------------------------------------

function bindControls() {
  $('join-button').addEventListener('click', () => join());
  $('hangup-button').addEventListener('click', () => state.call?.hangup());
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
    state.call?.close();
    releaseMedia();
  });
}

function main() {
  placeIcons();
  bindLocaleSelect(/** @type {HTMLSelectElement} */ ($('locale')));
  $('room-name').textContent = room;
  bindControls();
  embedding.post('ready', {});
  if (!ROOM_NAME.test(room)) {
    showNotice('badRoom', { state: 'error', canRetry: false });
  } else if (!browserCanCall()) {
    showNotice('unsupported', { state: 'unsupported', canRetry: false });
  } else if (!window.isSecureContext) {
    showNotice('insecure', { state: 'insecure', canRetry: false });
  } else if (params.get('autojoin') === '1') {
    join();
  } else {
    showPrejoin();
  }
}

// A read-only handle for diagnostics in the console, and for the end-to-end tests.
/** @type {Window & {parley?: object}} */ (window).parley = {
  get call() {
    return state.call;
  },
  get pc() {
    return state.call?.pc ?? null;
  },
  get sessionId() {
    return state.call?.sessionId ?? null;
  },
  get openedTracks() {
    return [...state.openedTracks, ...(state.call?.diagnostics.openedTracks ?? [])];
  },
  get timerCount() {
    return stage.timerCount + (state.call?.diagnostics.timers ?? 0);
  },
  get inCall() {
    const status = state.call?.mediaStatus;
    return status ? { local: status.local, remote: status.remote, stats: state.call?.diagnostics.stats } : null;
  },
  get inRoom() {
    return state.call?.diagnostics.inRoom ?? false;
  },
  get iceRestarts() {
    return state.call?.diagnostics.iceRestarts ?? 0;
  },
  get lastSeq() {
    return state.call?.diagnostics.lastSeq ?? 0;
  },
  get connected() {
    return state.call?.diagnostics.connected ?? false;
  },
  get peerId() {
    return state.call?.diagnostics.peerSession ?? null;
  },
  /** Tests: the socket dies under us (not a goodbye), as on a network blip. */
  dropSignaling() {
    state.call?.diagnostics.dropConnection();
  },
};

main();
