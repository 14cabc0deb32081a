// The start page as a phone: who is online, ringing calls in and out, the call, and history.
// A view on the SDK's Phone (../sdk/phone.js does every call step): this module turns its
// events into screens, tones and notifications, and the buttons into its methods. Framed by a
// host app, it also speaks the postMessage API (embed.js).
import { bindLocaleSelect, t, translatePage } from './i18n.js';
import { MediaStartError, ParleyError, Phone, browserCanCall } from '../sdk/parley.js';
import { currentToken, framed, keepIdentity, takeHostToken, takeTokenFromLink } from './identity.js';
import { readItem, writeItem } from '../sdk/storage.js';
import { CallStage } from './call-stage.js';
import { InCallView } from './in-call.js';
import { bindDevicePicker } from './device-picker.js';
import { ringback, ringtone, stopAllTones, tonesRunning } from './tones.js';
import { askForNotifications, canAskForNotifications, closeNotification, notifyIncoming } from './notify.js';
import { $, setStatus, setStatusWords } from './ui.js';
import { historySeen, refreshHistory } from './phone-history.js';
import {
  renderOnline,
  ringLabel,
  show,
  showAuthFailed,
  showCallTitle,
  showEnded,
  showIncoming,
  showOutgoing,
  showPreview,
  showing,
} from './phone-screens.js';
import { paintAvatar } from './avatar.js';
import { placeIcons } from './icons.js';
import { bindTabs } from './tabs.js';
import { Embedding } from './embed.js';

const NAME_KEY = 'parley.name';

/**
 * @typedef {import('../sdk/parley.js').PhoneEventMap} PhoneEventMap
 * @typedef {import('../sdk/parley.js').DirectCall} DirectCall
 * @typedef {import('../sdk/parley.js').User} User
 * @typedef {import('./embed.js').Command} Command
 */

const view = {
  /** @type {Phone | null} */
  phone: null,
  /** Whom "call back" calls. @type {{peer: User, media: 'audio' | 'video'} | null} */
  lastPeer: null,
  /** @type {InCallView | null} */
  inCall: null,
};

const stage = new CallStage($('stage'));
const embedding = new Embedding(onCommand);

// --- the phone and its events ------------------------------------------------------------------

/** @param {string} name */
function connect(name) {
  const phone = new Phone({ name, token: currentToken() });
  view.phone = phone;
  /**
   * Events of a phone that has since been replaced (a new name) are ignored.
   * @template {keyof PhoneEventMap} K
   * @param {K} type @param {(detail: PhoneEventMap[K]['detail']) => void} handler
   */
  const on = (type, handler) =>
    phone.addEventListener(type, (event) => {
      if (view.phone === phone) handler(/** @type {PhoneEventMap[K]} */ (event).detail);
    });
  on('ready', ({ user, online, token }) => {
    keepIdentity(token);
    $('me-name').textContent = user.name;
    paintAvatar($('me-avatar'), user);
    $('me').hidden = false;
    renderOnline(online, user, placeCall);
    if (!phone.activeCall && showing() !== 'ended') show('phone', 'idle');
    bindDevicePicker($('device-settings'));
    showHistory();
    embedding.post('signed-in', { user });
  });
  on('presence', ({ online }) => renderOnline(online, phone.user, placeCall));
  on('connection', ({ state }) => onConnection(phone, state));
  on('calling', ({ call }) => {
    view.lastPeer = { peer: call.peer, media: call.media };
    syncRename(phone);
    showOutgoing(call.peer, 'calling');
  });
  on('ringing', ({ call }) => {
    ringLabel('status.ringing');
    ringback.start();
    embedding.post('ringing', describe(call));
  });
  on('incoming', ({ call }) => {
    view.lastPeer = { peer: call.peer, media: call.media };
    syncRename(phone);
    const label = showIncoming(call.peer, call.media, phone.user ? [...phone.online, phone.user] : phone.online);
    ringtone.start();
    notifyIncoming(t(label), call.peer.name, /** @type {string} */ (call.id));
    embedding.post('incoming', describe(call));
  });
  on('preview', ({ stream }) => showPreview(stream));
  on('accepted', ({ call }) => onAccepted(phone, call));
  on('remotestream', ({ stream }) => stage.showRemote(stream));
  on('connectionstate', ({ state }) => stage.connectionState(state));
  on('connected', () => stage.connected());
  on('reconnecting', () => stage.reconnecting());
  on('trouble', ({ trouble }) => stage.trouble(trouble));
  on('resumed', () => restoreCallStatus(phone));
  on('ended', (ended) => onEnded(phone, ended));
  phone.connect().catch(() => {}); // told by `connection` events
}

/** @param {Phone} phone @param {import('../sdk/parley.js').LinkState} state */
function onConnection(phone, state) {
  const call = phone.activeCall;
  if (state === 'failed') {
    showAuthFailed();
  } else if (state === 'reconnecting') {
    if (call?.pc) setStatus('serverReconnecting');
    else if (!call && showing() !== 'ended') show('phone', 'disconnected');
  } else if (state === 'connected') {
    if (call?.pc) restoreCallStatus(phone);
    else if (!call && showing() === 'phone') show('phone', 'idle');
  }
}

/** @param {Phone} phone @param {DirectCall} call */
function onAccepted(phone, call) {
  showPreview(null);
  stopAllTones();
  closeNotification();
  show('call', 'connecting');
  setStatus('negotiating');
  stage.showLocal(/** @type {MediaStream} */ (call.localStream), call.media);
  stage.setPeer(call.peer, call.peer.name || '—');
  showCallTitle(call.peer);
  view.inCall?.dispose();
  view.inCall = new InCallView({
    stage,
    session: phone,
    localStream: () => call.localStream,
    bar: /** @type {HTMLElement} */ (document.querySelector('#screen-call .callbar')),
    peerName: () => call.peer.name || '—',
    notice: ({ key, params }) => setStatusWords(key, params),
  });
  embedding.post('accepted', describe(call));
}

/** @param {Phone} phone @param {PhoneEventMap['ended']['detail']} ended */
function onEnded(phone, { call, reason, by, duration, error }) {
  view.inCall?.dispose();
  view.inCall = null;
  stage.clear();
  showPreview(null);
  stopAllTones();
  closeNotification();
  embedding.post('ended', { ...describe(call), reason, by, duration });
  syncRename(phone);
  showHistory();
  if (reason === 'answered-elsewhere') {
    show('phone', 'idle');
    return;
  }
  const byMe = by !== null && by === phone.user?.id;
  const role = call.direction === 'outgoing' ? 'caller' : 'callee';
  showEnded({ reason, byMe, peer: call.peer, role, detail: () => problem(error) });
}

/** What went wrong, in words (a media problem in the page's language). @param {unknown} error */
function problem(error) {
  if (!error) return '';
  if (error instanceof MediaStartError) return t(`notice.${error.reason}.title`);
  return error instanceof ParleyError ? error.code : String(error);
}

/** @param {Phone} phone */
function restoreCallStatus(phone) {
  const connected = phone.activeCall?.pc?.connectionState === 'connected';
  setStatus(connected ? 'inCall' : 'negotiating');
}

/** What the host app is told of a call. @param {DirectCall} call */
function describe(call) {
  return { call: call.id, peer: call.peer, media: call.media, direction: call.direction };
}

/** "Change name" does nothing during a call: it says so by being disabled. @param {Phone} phone */
function syncRename(phone) {
  /** @type {HTMLButtonElement} */ ($('rename')).disabled = phone.activeCall !== null;
}

function showHistory() {
  refreshHistory(placeCall);
}

// --- the buttons, and the host app's commands ---------------------------------------------------

/** @param {User} peer @param {'audio' | 'video'} media */
function placeCall(peer, media) {
  const phone = view.phone;
  if (!phone || phone.activeCall || !phone.user) return;
  phone.call(peer, { media });
}

/** @param {'audio' | 'video'} media */
function accept(media) {
  const phone = view.phone;
  if (!phone?.activeCall || phone.activeCall.state !== 'incoming') return;
  showPreview(null);
  stopAllTones();
  closeNotification();
  show('call', 'connecting');
  setStatus('negotiating');
  phone.accept({ media });
}

/** @param {Command} command */
function onCommand(command) {
  const phone = view.phone;
  if (command.command === 'token') {
    if (!takeHostToken(command.token) || phone?.activeCall) return;
    const previous = view.phone;
    view.phone = null;
    previous?.close();
    connect('');
  } else if (command.command === 'call') {
    const known = phone?.online.find((user) => user.id === command.user);
    placeCall(known ?? { id: command.user, name: '' }, command.media);
  } else if (command.command === 'hangup') {
    phone?.hangup();
  } else if (command.command === 'mute') {
    phone?.setMuted(command.muted);
  }
}

function bindControls() {
  $('name-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = /** @type {HTMLInputElement} */ ($('name-input')).value.trim();
    if (!name) return;
    writeItem(NAME_KEY, name);
    const previous = view.phone;
    view.phone = null;
    previous?.close();
    connect(name);
  });
  $('rename').addEventListener('click', () => {
    if (view.phone?.activeCall) return;
    /** @type {HTMLInputElement} */ ($('name-input')).value = view.phone?.user?.name ?? '';
    show('name');
  });
  bindTabs(['people', 'history', 'rooms'], (tab) => {
    if (tab === 'history') historySeen();
  });
  $('cancel-button').addEventListener('click', () => view.phone?.cancel());
  $('accept-video').addEventListener('click', () => accept('video'));
  $('accept-voice').addEventListener('click', () => accept('audio'));
  $('decline-button').addEventListener('click', () => view.phone?.reject());
  $('hangup-button').addEventListener('click', () => view.phone?.hangup());
  $('ended-ok').addEventListener('click', () => show('phone', 'idle'));
  $('call-back').addEventListener('click', () => {
    if (view.lastPeer) placeCall(view.lastPeer.peer, view.lastPeer.media);
  });
  const notifications = $('enable-notifications');
  notifications.hidden = !canAskForNotifications();
  notifications.addEventListener('click', async () => {
    await askForNotifications();
    notifications.hidden = !canAskForNotifications();
  });
  $('join-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = /** @type {HTMLInputElement} */ ($('room-input'));
    if (input.reportValidity()) location.assign(`/r/${encodeURIComponent(input.value.trim())}`);
  });
  window.addEventListener('pagehide', () => view.phone?.close());
}

function main() {
  takeTokenFromLink();
  placeIcons();
  bindLocaleSelect(/** @type {HTMLSelectElement} */ ($('locale')));
  bindControls();
  translatePage();
  if (!browserCanCall()) {
    // No WebRTC (an in-app WebView, WebKitGTK): no call could connect. Never go online to ring.
    show('unsupported');
    embedding.post('ready', {});
    return;
  }
  if (!window.isSecureContext) {
    // Calls could neither be made nor answered here: say why, and never go online to ring.
    show('insecure');
    embedding.post('ready', {});
    return;
  }
  const name = readItem(NAME_KEY);
  const token = currentToken();
  // A host app's token (not one of our own `g1.` guest tokens) carries the name: no need to ask.
  const fromHostApp = token !== null && !token.startsWith('g1.');
  if (fromHostApp || (name && !framed)) connect(name ?? '');
  else show('name');
  embedding.post('ready', {});
}

// A read-only handle for diagnostics in the console, and for the end-to-end tests.
/** @type {Window & {parley?: object}} */ (window).parley = {
  get phone() {
    return view.phone;
  },
  get pc() {
    return view.phone?.activeCall?.pc ?? null;
  },
  get sessionId() {
    return view.phone?.diagnostics.sessionId ?? null;
  },
  get user() {
    return view.phone?.user ?? null;
  },
  get openedTracks() {
    return view.phone?.diagnostics.openedTracks ?? [];
  },
  get timerCount() {
    return stage.timerCount + tonesRunning() + (view.phone?.diagnostics.timers ?? 0);
  },
  get inCall() {
    const status = view.phone?.mediaStatus;
    return status ? { local: status.local, remote: status.remote, stats: view.phone?.diagnostics.stats } : null;
  },
  get callId() {
    return view.phone?.activeCall?.id ?? null;
  },
  get iceRestarts() {
    return view.phone?.diagnostics.iceRestarts ?? 0;
  },
  get connected() {
    return view.phone?.diagnostics.connected ?? false;
  },
  get lastSeq() {
    return view.phone?.diagnostics.lastSeq ?? 0;
  },
  get peerId() {
    return view.phone?.diagnostics.peerSession ?? null;
  },
  /** The connection made while the call rings, and what it holds back until answered. */
  get prepared() {
    return view.phone?.diagnostics.prepared ?? null;
  },
  /** Tests: the socket dies under us (not a goodbye), as on a network blip. */
  dropSignaling() {
    view.phone?.diagnostics.dropConnection();
  },
};

main();
