// The call page at /r/{room}: pre-join preview, then one call in the room, then a clean end.
//
// This entry module holds the pre-join screen, joining, the page's buttons and the debug handle;
// room-state.js holds the shared state and local media, room-call.js starts and ends the call,
// room-signaling.js handles what the server sends.
import { bindLocaleSelect, translatePage } from './i18n.js';
import { SignalingError } from './signaling.js';
import { stopStream } from './media.js';
import { bindDevicePicker } from './device-picker.js';
import { $, setStatus, showNotice, showScreen } from './ui.js';
import { acquireMedia, params, releaseMedia, room, stage, state } from './room-state.js';
import { closePeerConnection, endWithNotice, failOnMedia, hangUp, maybeStartCall } from './room-call.js';
import { ensureSignaling } from './room-signaling.js';

/** @typedef {import('./signaling.js').JoinedMessage} JoinedMessage */

const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;

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

  setStatus('connecting');
  try {
    const signaling = await ensureSignaling();
    const joined = /** @type {JoinedMessage} */ (await signaling.request({ type: 'join', room }));
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
/** @type {Window & {parley?: object}} */ (window).parley = {
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
