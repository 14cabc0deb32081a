// The start page as a phone: who is online, ringing calls in and out, the call, and history.
// Over 400 lines: the direct-call logic here is to move into the UI-free SDK (`Phone`, the
// "Parley inside a chat app" issue), which leaves this file a view; split with it, not before.
import { bindLocaleSelect, format, t, translatePage } from './i18n.js';
import { Signaling, SignalingError } from './signaling.js';
import { currentToken, keepIdentity, takeTokenFromLink } from './identity.js';
import { MediaStartError, openLocalMedia, stopStream } from './media.js';
import { PeerCall } from './call.js';
import { withoutAddresses } from './sdp.js';
import { CallStage } from './call-stage.js';
import { InCall } from './in-call.js';
import { bindDevicePicker } from './device-picker.js';
import { ringback, ringtone, stopAllTones, tonesRunning } from './tones.js';
import { askForNotifications, canAskForNotifications, closeNotification, notifyIncoming } from './notify.js';
import { $, setStatus } from './ui.js';

const NAME_KEY = 'parley.name';
const MISSED_SEEN_KEY = 'parley.missedSeenAt';
const RESUME_CALL_ID = 'resume-call';
const SCREENS = ['name', 'phone', 'outgoing', 'incoming', 'call', 'ended'];

/**
 * @typedef {import('./signaling.js').SignalingEvents} SignalingEvents
 * @typedef {import('./signaling.js').WelcomeMessage} WelcomeMessage
 * @typedef {import('./signaling.js').OnlineMessage} OnlineMessage
 * @typedef {import('./signaling.js').IncomingCallMessage} IncomingCallMessage
 * @typedef {import('./signaling.js').CallAcceptedMessage} CallAcceptedMessage
 * @typedef {import('./signaling.js').CallEndedMessage} CallEndedMessage
 * @typedef {import('./signaling.js').RingingMessage} RingingMessage
 * @typedef {RingingMessage | CallEndedMessage | CallAcceptedMessage} InviteReply
 * `invite` is answered by `ringing` or `call-ended`; by `call-accepted` after a glare.
 * @typedef {{id: string, name: string}} User
 * @typedef {{
 *   id: string | null, role: 'caller' | 'callee', peer: User, media: 'audio' | 'video',
 *   stream: MediaStream | null, peerCall: PeerCall | null, cancelWanted: boolean,
 *   configuration: RTCConfiguration, inCall?: InCall | null, prepared?: PeerCall | null,
 *   invitedOffer?: string | null, acceptedAnswer?: {held: string, sent: string} | null,
 *   ticket?: string | null
 * }} ActiveCall
 * `prepared`: the caller's connection made before the invite (offer and candidates held), or
 * the callee's made while it rang (the caller's offer taken in, the answer made while ringing or
 * at the click); it becomes `peerCall` when the call is answered. `invitedOffer`: the caller's
 * offer that rode the invite. `acceptedAnswer` (callee): the answer that rode the accept, as held
 * and as sent (with the candidates gathered by then). `ticket`: the server's proof that this
 * call was answered, which `resume-call` shows to take it back after a server restart.
 *
 * @typedef {{peerCall: PeerCall, stream: MediaStream, go: () => void}} PreparedAnswer
 * A ringing device's connection holding the caller's offer; `go` lets it make the answer, once
 * `stream` holds the tracks to send.
 *
 * @typedef {{
 *   id: string, direction: 'outgoing' | 'incoming', peer: string, peer_name: string,
 *   media: 'audio' | 'video', created: string, answered: string | null, ended: string | null,
 *   duration_seconds: number | null, end_reason: string | null, ended_by: string | null,
 *   missed: boolean, quality?: {rtt_mean_ms: number | null, rtt_max_ms: number | null,
 *     loss_percent: number | null, send_kbps: number | null, receive_kbps: number | null,
 *     candidate_type: string | null, protocol: string | null} | null
 * }} HistoryEntry  one call of GET /api/calls, from this user's side
 */

// How long the invite waits for the offer it carries; a slower one goes once answered.
const INVITE_OFFER_WAIT_MS = 1500;

const state = {
  /** @type {Signaling | null} */
  signaling: null,
  /** @type {User | null} */
  me: null,
  /** @type {Map<string, User>} */
  online: new Map(),
  /** @type {ActiveCall | null} */
  call: null,
  /**
   * The call ringing here. `allowed`: the permissions of the devices each answer needs (asked
   * while it rings, so answering waits for nothing; their state stays current). `preview`: the
   * camera and microphone opened while a video call rings (previewWhileRinging); null on failure;
   * `previewStream` once they are open.
   * `answer`: the connection holding the offer that came with the ringing (prepareAnswer).
   * @type {{call: string, caller: User, media: 'audio' | 'video',
   *   allowed?: {audio: Promise<PermissionStatus[] | null>, video: Promise<PermissionStatus[] | null>},
   *   preview?: Promise<MediaStream | null> | null, previewStream?: MediaStream | null,
   *   answer?: PreparedAnswer | null} | null}
   */
  incoming: null,
  /** @type {{peer: User, media: 'audio' | 'video'} | null} */
  lastPeer: null,
  /** @type {MediaStreamTrack[]} */
  openedTracks: [],
};

const stage = new CallStage($('stage'));

function wsUrl() {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}

/** @param {string} screen @param {string} [bodyState] */
function show(screen, bodyState = screen) {
  for (const name of SCREENS) $(`screen-${name}`).hidden = name !== screen;
  document.body.dataset.state = bodyState;
}

// --- connecting ------------------------------------------------------------------------------

/** @param {string} name */
async function connect(name) {
  const signaling = new Signaling(wsUrl(), {
    name,
    token: currentToken(),
    presence: true,
  });
  state.signaling = signaling;
  /**
   * Events of a connection that has since been replaced are ignored.
   * @template {keyof SignalingEvents} K
   * @param {K} type @param {(e: CustomEvent<SignalingEvents[K]>) => void} handler
   */
  const on = (type, handler) =>
    signaling.addEventListener(type, (event) => {
      if (state.signaling === signaling) handler(/** @type {CustomEvent<SignalingEvents[K]>} */ (event));
    });
  on('presence', ({ detail }) => {
    if (detail.user.id === state.me?.id) return;
    if (detail.online) state.online.set(detail.user.id, detail.user);
    else state.online.delete(detail.user.id);
    renderOnline();
  });
  on('incoming-call', ({ detail }) => onIncoming(detail));
  on('call-accepted', ({ detail }) => {
    if (state.call && state.call.id === detail.call) startMedia(state.call, detail);
  });
  on('call-ended', ({ detail }) => onCallEnded(detail));
  on('call-resumed', ({ detail }) => {
    const peerCall = state.call?.id === detail.call ? state.call.peerCall : null;
    if (!peerCall) return;
    peerCall.peerId = detail.peer; // the other side's new session, after a server restart
    restoreCallStatus();
  });
  on('error', ({ detail }) => {
    if (detail.id === RESUME_CALL_ID && state.call) finishCall({ reason: 'connection-lost', by: null });
  });
  on('reconnecting', () => {
    if (state.call?.peerCall) setStatus('serverReconnecting');
    else if (!state.call && !state.incoming) show('phone', 'disconnected');
  });
  on('resumed', () => {
    if (state.call?.peerCall) restoreCallStatus();
    else if (!state.call && !state.incoming) show('phone', 'idle');
  });
  on('renewed', ({ detail }) => onSessionRenewed(detail.welcome, detail.restarted));
  for (const type of /** @type {const} */ (['offer', 'answer'])) {
    on(type, ({ detail }) => {
      peerCallFrom(detail.from)?.acceptDescription({ type, sdp: detail.sdp });
    });
  }
  on('candidate', ({ detail }) => {
    peerCallFrom(detail.from)?.acceptCandidate(detail.candidate);
  });
  for (const type of /** @type {const} */ (['media-state', 'video-request', 'video-reply'])) {
    on(type, ({ detail }) => {
      if (peerCallFrom(detail.from)) state.call?.inCall?.receive(type, detail);
    });
  }
  // Only a final close comes here (auth failed, taken over): start again with a new session.
  on('closed', () => reconnectLater(name));

  let welcome;
  try {
    welcome = await signaling.connect();
  } catch (error) {
    if (error instanceof SignalingError && error.code === 'auth-failed') {
      // Retrying the same token cannot help: the host app has to issue a new one.
      state.signaling = null;
      $('ended').dataset.reason = 'auth-failed';
      $('ended-text').textContent = t('authFailed');
      show('ended', 'auth-failed');
      return;
    }
    reconnectLater(name);
    return;
  }
  retryDelay = 1000;
  keepIdentity(welcome.token);
  state.me = welcome.user;
  $('me-name').textContent = welcome.user.name;
  $('me').hidden = false;
  state.online = new Map((welcome.online ?? []).filter((u) => u.id !== welcome.user.id).map((u) => [u.id, u]));
  renderOnline();
  loadMoreOnline(signaling, welcome.onlineNext);
  show('phone', 'idle');
  bindDevicePicker($('device-settings'));
  await refreshHistory();
}

let retryDelay = 1000;
/** @type {number | null} */
let retryTimer = null;

/** The server went away: end any call, and try again with growing pauses (at most 30 s).
 * @param {string} name */
function reconnectLater(name) {
  const hadCall = state.call !== null || state.incoming !== null;
  finishCall({ reason: 'connection-lost', by: null });
  if (!hadCall) show('phone', 'disconnected');
  state.signaling = null;
  if (retryTimer !== null) return;
  retryTimer = window.setTimeout(() => {
    retryTimer = null;
    connect(name);
  }, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 30_000);
}

/** Most of 1,000 people online is more than a list can show: the welcome's first page, and
 * then up to nine more (100 each) as the server hands them out.
 * @param {Signaling} signaling @param {number | null | undefined} offset */
async function loadMoreOnline(signaling, offset) {
  for (let pages = 1; offset != null && pages < 10 && state.signaling === signaling; pages += 1) {
    /** @type {OnlineMessage} */
    let page;
    try {
      page = /** @type {OnlineMessage} */ (await signaling.request({ type: 'online', offset }));
    } catch {
      return; // rate-limited or offline: the list shows what it has
    }
    for (const user of page.users) if (user.id !== state.me?.id) state.online.set(user.id, user);
    renderOnline();
    offset = page.next;
  }
}

/** The server restarted and forgot this session: show who is online again, and take an
 * answered call back (the other side does the same) instead of dropping it.
 * @param {WelcomeMessage} welcome @param {boolean} restarted */
function onSessionRenewed(welcome, restarted) {
  keepIdentity(welcome.token);
  state.me = welcome.user;
  state.online = new Map((welcome.online ?? []).filter((u) => u.id !== welcome.user.id).map((u) => [u.id, u]));
  renderOnline();
  if (state.signaling) loadMoreOnline(state.signaling, welcome.onlineNext);
  const call = state.call;
  if (call?.peerCall && call.id && call.ticket && restarted) {
    state.signaling?.send({
      type: 'resume-call',
      id: RESUME_CALL_ID,
      call: call.id,
      peer: call.peer.id,
      role: call.role,
      media: call.media,
      ticket: call.ticket,
    });
    return;
  }
  // A call still ringing was lost with a restarted server's memory of it; after our own
  // session ended (same server), the call ended with it.
  if (call || state.incoming) finishCall({ reason: 'connection-lost', by: null });
  else show('phone', 'idle');
}

function restoreCallStatus() {
  const connected = state.call?.peerCall?.pc.connectionState === 'connected';
  setStatus(connected ? 'inCall' : 'negotiating');
}

/** @param {string} sessionId */
function peerCallFrom(sessionId) {
  const peerCall = state.call?.peerCall;
  return peerCall && peerCall.peerId === sessionId ? peerCall : null;
}

// --- placing a call ----------------------------------------------------------------------------

/** @param {User} peer @param {'audio' | 'video'} media */
async function placeCall(peer, media) {
  if (state.call || state.incoming || !state.signaling || !state.me) return;
  /** @type {ActiveCall} */
  const call = { id: null, role: 'caller', peer, media, stream: null, peerCall: null, cancelWanted: false, configuration: {} };
  state.call = call;
  state.lastPeer = { peer, media };
  $('outgoing-name').textContent = peer.name || '—';
  $('outgoing-label').dataset.i18n = 'calling';
  $('outgoing-label').textContent = t('calling');
  show('outgoing');
  try {
    call.stream = await acquire(media);
  } catch (error) {
    finishCall({ reason: 'failed', by: null, detail: mediaProblem(error) });
    return;
  }
  // ICE servers before the invite: once answered, negotiation must start without a wait.
  call.configuration = await state.signaling.iceConfiguration({ to: peer.id });
  if (state.call !== call) return releaseStream(call);
  // The offer is made before the invite and rides it: the callee's devices take it in while
  // they ring, so that answering has little left to do.
  prepareConnection(call);
  const prepared = call.prepared;
  const offer = prepared ? await heldOffer(prepared) : null;
  if (state.call !== call || !state.signaling) return;
  // Replaced meanwhile (a network change): its offer goes once answered, as without one here.
  call.invitedOffer = call.prepared === prepared ? offer : null;
  // takes_answer: an answer the callee made while ringing may come with call-accepted.
  /** @type {{type: 'invite', to: string, media: 'audio' | 'video', caller_offers: boolean,
   *   takes_answer: boolean, offer?: string}} */
  const invite = { type: 'invite', to: peer.id, media, caller_offers: true, takes_answer: true };
  if (call.invitedOffer) invite.offer = withoutAddresses(call.invitedOffer);
  /** @type {InviteReply} */
  let reply;
  try {
    reply = /** @type {InviteReply} */ (await state.signaling.request(invite));
  } catch (error) {
    finishCall({ reason: 'failed', by: null, detail: error instanceof SignalingError ? error.code : '' });
    return;
  }
  if (state.call !== call) return;
  if (reply.type === 'call-ended') {
    onCallEnded(reply, call);
  } else if (reply.type === 'call-accepted') {
    // Both called each other at once: the server joined the two attempts into this one call.
    call.id = reply.call;
    startMedia(call, reply);
  } else {
    call.id = reply.call;
    $('outgoing-label').dataset.i18n = 'status.ringing';
    $('outgoing-label').textContent = t('status.ringing');
    ringback.start();
    if (call.cancelWanted) cancelCall();
  }
}

/**
 * The offer `peerCall` holds for the peer it does not know yet, once made; null if that takes
 * longer than an invite should wait. @param {PeerCall} peerCall
 * @returns {Promise<string | null>}
 */
function heldOffer(peerCall) {
  let timer = 0;
  const late = new Promise((resolve) => {
    timer = window.setTimeout(() => resolve(null), INVITE_OFFER_WAIT_MS);
  });
  return Promise.race([peerCall.heldOffer, late]).finally(() => window.clearTimeout(timer));
}

/**
 * The caller makes the first offer when both sides know that rule (`caller_offers`; then
 * `call-accepted.polite` is false for it), so it makes it now, before it invites: its
 * connection, tracks, offer and candidates are ready. The offer (without addresses) rides the
 * invite; the candidates (and the offer, when the answering device did not take it) go out the
 * moment the answer names the answering device. (Told `polite: true`, by an older callee, it
 * drops them: startMedia.)
 * @param {ActiveCall} call
 */
function prepareConnection(call) {
  if (!state.signaling || !call.stream) return;
  call.prepared = newPeerCall(state.signaling, call, null, false);
  call.prepared.start();
}

/**
 * The connection of a call to the session `peerId` (null: not known yet, see PeerCall),
 * sending `stream`.
 * @param {Signaling} signaling
 * @param {{stream: MediaStream | null, configuration: RTCConfiguration}} call
 * @param {string | null} peerId @param {boolean} polite @param {Promise<unknown>} [tracksReady]
 */
function newPeerCall(signaling, { stream, configuration }, peerId, polite, tracksReady) {
  const peerCall = new PeerCall({
    send: (message) => signaling.send(message),
    peerId,
    polite,
    localStream: /** @type {MediaStream} */ (stream),
    configuration,
    tracksReady,
  });
  peerCall.addEventListener('error', (event) => {
    console.warn('negotiation error', /** @type {CustomEvent<unknown>} */ (event).detail);
  });
  return peerCall;
}

function cancelCall() {
  const call = state.call;
  if (!call || !state.signaling) return;
  if (call.id === null) {
    call.cancelWanted = true; // the invite is still on its way; cancel once it has an id
    return;
  }
  state.signaling.request({ type: 'cancel', call: call.id }).then(
    (reply) => onCallEnded(/** @type {CallEndedMessage} */ (reply)),
    () => finishCall({ reason: 'cancelled', by: state.me?.id ?? null }),
  );
}

// --- answering a call --------------------------------------------------------------------------

/** @param {IncomingCallMessage} detail */
function onIncoming(detail) {
  if (state.call) {
    if (state.call.peer.id === detail.caller.id && state.call.id === null) {
      // We are dialling them as they dial us: our invite will answer this call (glare).
      state.incoming = { call: detail.call, caller: detail.caller, media: detail.media };
    } else {
      state.signaling?.send({ type: 'reject', call: detail.call }); // busy on this device
    }
    return;
  }
  // One call rings at a time (the server says busy); one whose end never arrived gives way.
  if (state.incoming) endRinging(state.incoming);
  state.incoming = {
    call: detail.call,
    caller: detail.caller,
    media: detail.media,
    allowed: { audio: devicePermissions('audio'), video: devicePermissions('video') },
  };
  $('incoming-name').textContent = detail.caller.name || '—';
  const label = detail.media === 'video' ? 'incomingVideo' : 'incomingVoice';
  $('incoming-label').dataset.i18n = label;
  $('incoming-label').textContent = t(label);
  $('accept-video').hidden = detail.media !== 'video';
  show('incoming');
  ringtone.start();
  notifyIncoming(t(label), detail.caller.name, detail.call);
  if (detail.media === 'video') previewWhileRinging(state.incoming);
  if (typeof detail.offer === 'string') prepareAnswer(state.incoming, detail.offer);
}

/**
 * The caller's offer came with the ringing: this device takes it in now (the remote
 * description, its transceivers and remote tracks), the longest step of an answer. The answer
 * follows `go`: while ringing if the preview holds the tracks (answerWhileRinging), else once
 * answered. Nothing is sent (none of this device's addresses) until the user answers.
 * @param {NonNullable<typeof state.incoming>} incoming @param {string} offer
 */
async function prepareAnswer(incoming, offer) {
  const signaling = state.signaling;
  if (!signaling) return;
  const configuration = await signaling.iceConfiguration();
  if (state.incoming !== incoming) return;
  let go = () => {};
  const tracksReady = new Promise((resolve) => {
    go = () => resolve(undefined);
  });
  const stream = new MediaStream();
  // Its candidates are gathered now too (local interfaces, STUN and TURN servers; nothing
  // reaches the caller): they are ready when the answer is made, and checks start at once.
  const pooled = { ...configuration, iceCandidatePoolSize: 1 };
  const peerCall = newPeerCall(signaling, { stream, configuration: pooled }, null, true, tracksReady);
  incoming.answer = { peerCall, stream, go };
  // Addresses in it (a caller other than this page's) would draw checks from this device.
  peerCall.acceptDescription({ type: 'offer', sdp: withoutAddresses(offer) });
  answerWhileRinging(incoming);
}

/**
 * The preview's tracks are the ones a video answer sends: with them and the caller's offer, the
 * answer is made while the call rings and held (with this device's candidates) until the user
 * answers; it then rides the accept. Answering with voice only drops it (accept).
 * @param {NonNullable<typeof state.incoming>} incoming
 */
function answerWhileRinging(incoming) {
  const answer = incoming.answer;
  const preview = incoming.previewStream;
  if (state.incoming !== incoming || !answer || !preview) return;
  // (Called by whichever of the two comes last, or by both: adding a track twice, or letting
  // the answer go twice, changes nothing.)
  for (const track of preview.getTracks()) answer.stream.addTrack(track);
  answer.go();
}

/**
 * A video call rings: the callee sees itself as the caller will, when the browser lets this
 * page use camera and microphone without asking (allowed for good; a prompt for a call not yet
 * answered would be a surprise). Nothing is sent before the answer, and answering takes these
 * very tracks, so the call does not wait for a camera to start.
 * @param {NonNullable<typeof state.incoming>} incoming
 */
async function previewWhileRinging(incoming) {
  const allowed = allGranted(await incoming.allowed?.video);
  if (state.incoming !== incoming || !allowed) return;
  incoming.preview = acquire('video').catch(() => null); // answering opens them again
  const stream = await incoming.preview;
  if (stream && state.incoming === incoming) {
    const video = /** @type {HTMLVideoElement} */ ($('incoming-preview'));
    video.srcObject = stream;
    video.hidden = false;
    incoming.previewStream = stream;
    answerWhileRinging(incoming);
  }
}

/**
 * The ringing is over, answered or not: the preview leaves the screen. Its tracks go with the
 * answer (`keep`), or are stopped, whenever they finish opening.
 * @param {NonNullable<typeof state.incoming>} incoming @param {boolean} keep
 */
function endRinging(incoming, keep = false) {
  if (state.incoming === incoming) state.incoming = null;
  const answer = incoming.answer;
  incoming.answer = null;
  if (answer && !keep) answer.peerCall.close();
  const video = /** @type {HTMLVideoElement} */ ($('incoming-preview'));
  video.hidden = true;
  video.srcObject = null;
  const preview = incoming.preview;
  incoming.preview = null;
  if (preview && !keep) preview.then(stopStream);
}

/** @param {'audio' | 'video'} media */
async function accept(media) {
  const incoming = state.incoming;
  if (!incoming || !state.signaling) return;
  const preview = incoming.preview;
  // The caller's offer taken in while ringing fits an answer with the call's own media only.
  let answer = incoming.answer ?? null;
  const held = answer?.peerCall.heldAnswer() ?? null;
  // (Still taking the offer in at the click, or failed to: the caller sends it again.)
  if (answer && (media !== incoming.media || (answer.peerCall.pc.signalingState !== 'have-remote-offer' && held === null))) {
    answer.peerCall.close();
    answer = null;
  }
  // The answer made while ringing rides the accept, as the connection has it now: with the
  // addresses gathered meanwhile (the caller may have them now).
  const acceptedAnswer = answer && held !== null ? { held, sent: answer.peerCall.pc.localDescription?.sdp ?? held } : null;
  endRinging(incoming, true);
  stopAllTones();
  closeNotification();
  /** @type {ActiveCall} */
  const call = { id: incoming.call, role: 'callee', peer: incoming.caller, media, stream: null, peerCall: null, cancelWanted: false, configuration: {}, prepared: answer?.peerCall ?? null, acceptedAnswer };
  state.call = call;
  state.lastPeer = { peer: incoming.caller, media: incoming.media };
  show('call', 'connecting');
  setStatus('negotiating');
  call.configuration = await state.signaling.iceConfiguration();
  if (state.call !== call) {
    preview?.then(stopStream); // ended before it had a stream
    return;
  }
  call.stream = answer?.stream ?? new MediaStream();
  let opened;
  if (preview) {
    opened = openInto(call, media, preview);
  } else if (allGranted(await (incoming.allowed?.[media] ?? devicePermissions(media)))) {
    // The camera starts while the answer travels and the caller's offer comes back: nothing
    // before our own answer needs it, and a camera can take a good while to start.
    opened = openInto(call, media);
  } else {
    // The browser will ask first: the call keeps ringing until the user has allowed it (a
    // prompt left open must not hold an answered call).
    if (!(await openInto(call, media))) return;
    opened = Promise.resolve(true);
  }
  // Not made while ringing: the answer is made once the tracks are in, while the accept
  // travels; it goes out when call-accepted names the caller's session.
  if (answer) opened.then(answer.go);
  if (state.call !== call) return;
  try {
    const reply = await state.signaling.request({
      type: 'accept',
      call: call.id,
      media,
      caller_offers: true,
      offer_taken: answer !== null,
      ...(acceptedAnswer ? { answer: acceptedAnswer.sent } : {}),
    });
    if (state.call === call) startMedia(call, /** @type {CallAcceptedMessage} */ (reply), opened);
  } catch (error) {
    if (state.call !== call) return;
    if (error instanceof SignalingError && error.code === 'closed') {
      // The socket went with the accept in flight: the server may have taken it, and the
      // caller would wait on a call nobody answers here. The hang-up goes out with the resumed
      // session (it declines the call if the accept never arrived).
      state.signaling?.send({ type: 'hangup', call: call.id });
      finishCall({ reason: 'connection-lost', by: null });
      return;
    }
    // The caller gave up (or another device answered) while we were getting ready.
    finishCall({ reason: 'cancelled', by: call.peer.id });
  }
}

/**
 * The permissions of the devices `media` needs; all `granted`: the browser lets this page use
 * them without asking (the user allowed them for good). Each status follows later changes.
 * Null when the browser cannot tell (then it may ask).
 * @param {'audio' | 'video'} media
 * @returns {Promise<PermissionStatus[] | null>}
 */
async function devicePermissions(media) {
  const names = media === 'video' ? ['camera', 'microphone'] : ['microphone'];
  try {
    return await Promise.all(
      names.map((name) => navigator.permissions.query({ name: /** @type {PermissionName} */ (name) })),
    );
  } catch {
    return null;
  }
}

/** @param {PermissionStatus[] | null | undefined} permissions */
function allGranted(permissions) {
  return permissions?.every((status) => status.state === 'granted') ?? false;
}

/**
 * Opens the callee's camera and microphone into `call.stream`, or takes the ones the ringing
 * opened (`opening`; opened again if those failed). Resolves once they are there (true), or once
 * the call is over (false): if they fail, the call ends as failed; `hangup` declines a call not
 * yet answered and ends one that is.
 * @param {ActiveCall} call @param {'audio' | 'video'} media
 * @param {Promise<MediaStream | null>} [opening]
 */
async function openInto(call, media, opening) {
  let stream;
  try {
    stream = (await opening) ?? (await acquire(media));
  } catch (error) {
    if (state.call !== call) return false;
    state.signaling?.send({ type: 'hangup', call: call.id });
    finishCall({ reason: 'failed', by: null, detail: mediaProblem(error) });
    return false;
  }
  if (state.call !== call || !call.stream) {
    stopStream(stream);
    return false;
  }
  const muted = call.inCall?.local.muted ?? false; // muted while the camera was opening
  for (const track of stream.getTracks()) {
    if (track.kind === 'video' && call.media === 'audio') {
      track.stop(); // agreed on voice only
      continue;
    }
    if (track.kind === 'audio') track.enabled = !muted;
    call.stream.addTrack(track);
  }
  if (call.peerCall) stage.showLocal(call.stream, call.media);
  return true;
}

function decline() {
  const incoming = state.incoming;
  if (!incoming || !state.signaling) return;
  state.signaling.request({ type: 'reject', call: incoming.call }).then(
    (reply) => onCallEnded(/** @type {CallEndedMessage} */ (reply)),
    () => finishCall({ reason: 'declined', by: state.me?.id ?? null }),
  );
}

// --- in the call -------------------------------------------------------------------------------

/**
 * @param {ActiveCall} call
 * @param {{media: 'audio' | 'video', peer: string, polite?: boolean, offer_taken?: boolean,
 *   answer?: string | null, answer_forwarded?: boolean, ticket?: string | null}} accepted
 * @param {Promise<unknown>} [tracksReady]  settles once call.stream holds the local tracks
 */
function startMedia(call, accepted, tracksReady) {
  if (call.peerCall || !call.stream || !state.signaling) return;
  call.ticket = accepted.ticket ?? null;
  const signaling = state.signaling;
  // Servers before `polite` used the session-id rule, as rooms do.
  const polite = accepted.polite ?? /** @type {string} */ (signaling.sessionId) < accepted.peer;
  const offerTaken = accepted.offer_taken === true;
  let prepared = call.prepared ?? null;
  call.prepared = null;
  if (
    prepared &&
    (prepared.polite !== polite ||
      accepted.media !== call.media ||
      (call.role === 'callee' && !offerTaken))
  ) {
    // What was made while ringing no longer fits: the caller's offer carried video and the
    // answer is voice only, or an older server's roles differ, or (callee) the server did not
    // count our answer to the rung offer. Start afresh.
    prepared.close();
    prepared = null;
  }
  if (state.incoming?.call === call.id) {
    // Glare: the call that rang here is this very call, now answered.
    endRinging(state.incoming);
    closeNotification();
  }
  stopAllTones();
  if (accepted.media === 'audio') {
    // Answered with voice only: nobody sends video.
    for (const track of call.stream.getVideoTracks()) {
      track.stop();
      call.stream.removeTrack(track);
    }
  }
  call.media = accepted.media;
  const peerCall = prepared ?? newPeerCall(signaling, call, accepted.peer, polite, tracksReady);
  if (call.role === 'caller') {
    prepared?.connectTo(accepted.peer, offerTaken ? call.invitedOffer : null);
    // The answer made while it rang came with the call's answer: set it before the in-call
    // screen below keeps this page busy.
    if (prepared && typeof accepted.answer === 'string') prepared.acceptDescription({ type: 'answer', sdp: accepted.answer });
  } else {
    const forwarded = accepted.answer_forwarded ? call.acceptedAnswer : null;
    prepared?.connectTo(accepted.peer, forwarded?.held ?? null, forwarded?.sent ?? '');
  }
  call.peerCall = peerCall;
  show('call', 'connecting');
  setStatus('negotiating');
  stage.showLocal(call.stream, call.media);
  stage.attach(peerCall); // may find the call connected already (then the call screen says so)
  call.inCall = new InCall({
    stage,
    call: peerCall,
    bar: /** @type {HTMLElement} */ (document.querySelector('#screen-call .callbar')),
    relay: (message) => state.signaling?.send({ ...message, to: peerCall.peerId }),
    trackOpened: (track) => state.openedTracks.push(track),
    peerName: () => call.peer.name || '—',
    hangUp: () => hangUp(),
  });
  call.inCall.addEventListener('notice', (event) => {
    const { detail } = /** @type {CustomEvent<import('./in-call.js').Notice>} */ (event);
    $('status').textContent = format(detail.key, detail.params);
  });
  peerCall.start();
}


function hangUp() {
  const call = state.call;
  if (!call || !state.signaling) return;
  if (call.id === null) return cancelCall();
  if (!state.signaling.connected) {
    // Reconnecting: the hang-up goes out with the resumed session; the call ends here now.
    state.signaling.send({ type: 'hangup', call: call.id });
    finishCall({ reason: 'hangup', by: state.me?.id ?? null });
    return;
  }
  state.signaling.request({ type: 'hangup', call: call.id }).then(
    (reply) => onCallEnded(/** @type {CallEndedMessage} */ (reply)),
    () => finishCall({ reason: 'hangup', by: state.me?.id ?? null }),
  );
}

// --- endings -----------------------------------------------------------------------------------

/**
 * @param {{call: string, reason: string, by: string | null}} ended
 * @param {ActiveCall | null} [call]  the call an invite reply belongs to (its id is not set yet)
 */
function onCallEnded(ended, call = null) {
  const current = call ?? state.call;
  if (current && (call || current.id === ended.call)) {
    finishCall(ended);
    return;
  }
  if (state.incoming?.call === ended.call) {
    const caller = state.incoming.caller;
    endRinging(state.incoming);
    stopAllTones();
    closeNotification();
    if (ended.reason === 'answered-elsewhere') {
      show('phone', 'idle');
      refreshHistory();
      return;
    }
    state.lastPeer = { peer: caller, media: 'video' };
    showEnded(ended.reason, ended.by, caller, 'callee');
  }
}

/**
 * Ends whatever call is going on: connection, tracks, tones, timers.
 * @param {{reason: string, by: string | null, detail?: string}} ending
 */
function finishCall({ reason, by, detail = '' }) {
  const call = state.call;
  const incoming = state.incoming;
  state.call = null;
  if (incoming) endRinging(incoming);
  stopAllTones();
  closeNotification();
  if (call?.inCall) {
    // The connection's summary, for this call's history row (the server checks it is ours).
    if (call.id) state.signaling?.send({ type: 'quality', call: call.id, ...call.inCall.summary() });
    call.inCall.dispose();
    call.inCall = null;
  }
  call?.peerCall?.close();
  call?.prepared?.close();
  if (call) releaseStream(call);
  stage.clear();
  const peer = call?.peer ?? incoming?.caller;
  if (!peer) return;
  showEnded(reason, by, peer, call?.role ?? 'callee', detail);
}

/**
 * @param {string} reason @param {string | null} by @param {User} peer @param {'caller' | 'callee'} role
 * @param {string} [detail]
 */
function showEnded(reason, by, peer, role, detail = '') {
  const name = peer.name || '—';
  const byMe = by !== null && by === state.me?.id;
  const key = {
    declined: byMe ? 'end.declined.callee' : 'end.declined.caller',
    busy: 'end.busy',
    'no-answer': role === 'caller' ? 'end.noAnswer.caller' : 'end.noAnswer.callee',
    cancelled: byMe || role === 'caller' ? 'end.cancelled.caller' : 'end.cancelled.callee',
    offline: 'end.offline',
    hangup: byMe ? 'end.hangup.me' : 'end.hangup.peer',
    'connection-lost': 'end.connectionLost',
    'answered-elsewhere': 'end.answeredElsewhere',
  }[reason] ?? 'end.failed';
  $('ended').dataset.reason = reason;
  $('ended-text').textContent = format(key, { name }) + (detail ? ` (${detail})` : '');
  show('ended');
  refreshHistory();
}

/** @param {ActiveCall} call */
function releaseStream(call) {
  stopStream(call.stream);
  for (const track of call.peerCall?.localStream.getTracks() ?? []) track.stop();
  call.stream = null;
}

/** @param {unknown} error */
function mediaProblem(error) {
  return error instanceof MediaStartError ? t(`notice.${error.reason}.title`) : String(error);
}

/** @param {'audio' | 'video'} media */
async function acquire(media) {
  const stream = await openLocalMedia(media);
  state.openedTracks.push(...stream.getTracks());
  return stream;
}


// --- lists -------------------------------------------------------------------------------------

function renderOnline() {
  const list = $('online-list');
  const people = [...state.online.values()].sort((a, b) => a.name.localeCompare(b.name));
  list.replaceChildren(
    ...people.map((user) => {
      const item = document.createElement('li');
      item.dataset.user = user.id;
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = user.name || '—';
      item.append(who, callButton(user, 'video', 'videoCall'), callButton(user, 'audio', 'voiceCallButton'));
      return item;
    }),
  );
  $('nobody-online').hidden = people.length > 0;
}

/** @param {User} user @param {'audio' | 'video'} media @param {string} label */
function callButton(user, media, label) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = media === 'video' ? 'primary call-video' : 'call-voice';
  button.dataset.i18n = label;
  button.textContent = t(label);
  button.setAttribute('aria-label', `${t(label)}: ${user.name}`);
  button.addEventListener('click', () => placeCall(user, media));
  return button;
}

async function refreshHistory() {
  const token = currentToken();
  if (!token) return;
  /** @type {HistoryEntry[]} */
  let calls;
  try {
    const response = await fetch('/api/calls?limit=50', { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) return;
    ({ calls } = await response.json());
  } catch {
    return;
  }
  const seenAt = Number(localStorage.getItem(MISSED_SEEN_KEY) ?? 0);
  const unseenMissed = calls.filter((c) => c.missed && Date.parse(c.created) > seenAt).length;
  const badge = $('missed-badge');
  badge.textContent = String(unseenMissed);
  badge.hidden = unseenMissed === 0 || $('tab-history').getAttribute('aria-selected') === 'true';
  $('history-list').replaceChildren(...calls.map(historyItem));
  $('no-history').hidden = calls.length > 0;
}

/** @param {HistoryEntry} entry */
function historyItem(entry) {
  const item = document.createElement('li');
  item.dataset.call = entry.id;
  item.classList.toggle('missed', entry.missed);
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = `${entry.direction === 'outgoing' ? '↗' : '↙'} ${entry.peer_name || '—'}`;
  const again = document.createElement('button');
  again.type = 'button';
  again.className = 'call-back';
  again.dataset.i18n = 'callBack';
  again.textContent = t('callBack');
  again.addEventListener('click', () => placeCall({ id: entry.peer, name: entry.peer_name }, entry.media));
  const detail = document.createElement('span');
  detail.className = 'detail';
  const when = new Date(entry.created).toLocaleString(document.documentElement.lang);
  const media = t(entry.media === 'video' ? 'mediaVideo' : 'mediaAudio');
  const outcome = entry.missed
    ? t('missedCall')
    : entry.duration_seconds != null
      ? formatSeconds(entry.duration_seconds)
      : entry.end_reason == null
        ? t('history.ongoing')
        : reasonWords(entry);
  const quality = entry.quality
    ? ` · ${format('history.quality', {
        rtt: entry.quality.rtt_mean_ms == null ? '—' : String(Math.round(entry.quality.rtt_mean_ms)),
        loss: entry.quality.loss_percent == null ? '—' : entry.quality.loss_percent.toFixed(1),
        path: [entry.quality.candidate_type, entry.quality.protocol].filter(Boolean).join('/') || '—',
      })}`
    : '';
  detail.textContent = `${when} · ${media} · ${outcome}${quality}`;
  item.append(who, again, detail);
  return item;
}

/** @param {HistoryEntry} entry  one that ended (`end_reason` set) */
function reasonWords(entry) {
  const key = {
    declined: 'end.declined.caller',
    busy: 'end.busy',
    'no-answer': 'end.noAnswer.caller',
    cancelled: 'end.cancelled.caller',
    offline: 'end.offline',
    'connection-lost': 'end.connectionLost',
  }[/** @type {string} */ (entry.end_reason)] ?? 'end.failed';
  return format(key, { name: entry.peer_name || '—' });
}

/** @param {number} seconds */
function formatSeconds(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** @param {'people' | 'history' | 'rooms'} name */
function selectTab(name) {
  for (const tab of ['people', 'history', 'rooms']) {
    $(`tab-${tab}`).setAttribute('aria-selected', String(tab === name));
    $(`panel-${tab}`).hidden = tab !== name;
  }
  if (name === 'history') {
    localStorage.setItem(MISSED_SEEN_KEY, String(Date.now()));
    $('missed-badge').hidden = true;
  }
}

// --- page set-up -------------------------------------------------------------------------------

function bindControls() {
  $('name-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = /** @type {HTMLInputElement} */ ($('name-input')).value.trim();
    if (!name) return;
    localStorage.setItem(NAME_KEY, name);
    if (retryTimer !== null) window.clearTimeout(retryTimer);
    retryTimer = null;
    const previous = state.signaling;
    state.signaling = null;
    previous?.close();
    connect(name);
  });
  $('rename').addEventListener('click', () => {
    if (state.call || state.incoming) return;
    /** @type {HTMLInputElement} */ ($('name-input')).value = state.me?.name ?? '';
    show('name');
  });
  for (const tab of /** @type {const} */ (['people', 'history', 'rooms'])) {
    $(`tab-${tab}`).addEventListener('click', () => selectTab(tab));
  }
  $('cancel-button').addEventListener('click', () => cancelCall());
  $('accept-video').addEventListener('click', () => accept('video'));
  $('accept-voice').addEventListener('click', () => accept('audio'));
  $('decline-button').addEventListener('click', () => decline());
  $('hangup-button').addEventListener('click', () => hangUp());
  $('ended-ok').addEventListener('click', () => show('phone', 'idle'));
  $('call-back').addEventListener('click', () => {
    if (state.lastPeer) placeCall(state.lastPeer.peer, state.lastPeer.media);
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
  window.addEventListener('pagehide', () => {
    finishCall({ reason: 'hangup', by: null });
    state.signaling?.close();
  });
  // The network changed (Wi-Fi back, another network): both paths may be stale.
  window.addEventListener('online', () => {
    state.signaling?.reconnectNow();
    state.call?.peerCall?.restartIce();
    const call = state.call;
    if (call?.prepared && call.role === 'caller') {
      // Still ringing: the candidates gathered for the answer belong to the old network.
      if (call.invitedOffer) {
        // The callee may be answering the offer that rode the invite: it stays, and ICE
        // restarts (new candidates) the moment the answer has come.
        call.prepared.pc.restartIce();
      } else {
        call.prepared.close();
        call.prepared = null;
        prepareConnection(call);
      }
    }
  });
}

function main() {
  takeTokenFromLink();
  bindLocaleSelect(/** @type {HTMLSelectElement} */ ($('locale')));
  bindControls();
  translatePage();
  const name = localStorage.getItem(NAME_KEY);
  const token = currentToken();
  // A host app's token (not one of our own `g1.` guest tokens) carries the name: no need to ask.
  const fromHostApp = token !== null && !token.startsWith('g1.');
  if (name || fromHostApp) connect(name ?? '');
  else show('name');
}

// A read-only handle for diagnostics in the console, and for the end-to-end tests.
/** @type {Window & {parley?: object}} */ (window).parley = {
  get pc() {
    return state.call?.peerCall?.pc ?? null;
  },
  get sessionId() {
    return state.signaling?.sessionId ?? null;
  },
  get user() {
    return state.me;
  },
  get openedTracks() {
    return state.openedTracks;
  },
  get timerCount() {
    return stage.timerCount + tonesRunning() + (state.call?.inCall?.timerCount ?? 0);
  },
  get inCall() {
    const inCall = state.call?.inCall;
    return inCall ? { local: inCall.local, remote: inCall.remote, stats: inCall.stats.latest } : null;
  },
  get callId() {
    return state.call?.id ?? state.incoming?.call ?? null;
  },
  get iceRestarts() {
    return state.call?.peerCall?.iceRestarts ?? 0;
  },
  get connected() {
    return state.signaling?.connected ?? false;
  },
  get peerId() {
    return state.call?.peerCall?.peerId ?? null;
  },
  /** The connection made while the call rings (the caller's; the callee's with the caller's
   * offer), and what it holds back until answered. */
  get prepared() {
    const prepared = state.call?.prepared ?? state.incoming?.answer?.peerCall;
    if (!prepared) return null;
    const { signalingState, iceGatheringState } = prepared.pc;
    return { signalingState, iceGatheringState, unsent: prepared.unsent.map((m) => m.type) };
  },
  /** Tests: the socket dies under us (not a goodbye), as on a network blip. */
  dropSignaling() {
    state.signaling?.ws?.close(4000, 'dropped');
  },
};

main();
