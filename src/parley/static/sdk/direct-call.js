// One direct call as the host sees it (DirectCall), and the two moments every call goes
// through whichever side placed it: answered (startMedia: the connection made while it rang is
// kept if it still fits, the call's controls start) and over (finishCall: connection, tracks
// and timers all go, and `ended` says why). dialing.js and answering.js lead up to these.
import { PeerCall } from './peer-call.js';
import { openLocalMedia, stopStream } from './capture.js';

/**
 * @typedef {import('./phone.js').Phone} Phone
 * @typedef {import('./signaling.js').UserInfo} User
 * @typedef {import('./signaling.js').CallAcceptedMessage} CallAcceptedMessage
 * @typedef {'audio' | 'video'} Media
 * @typedef {'calling' | 'ringing' | 'incoming' | 'accepting' | 'accepted' | 'connected' |
 *   'reconnecting' | 'ended'} CallState
 * @typedef {'answered-elsewhere' | 'busy' | 'cancelled' | 'connection-lost' | 'declined' |
 *   'ended-by-app' | 'hangup' | 'no-answer' | 'offline' | 'cannot-answer' | 'media-failed' | 'failed'} EndReason
 * @typedef {{reason: EndReason, by: string | null, error?: unknown}} Ending
 * @typedef {{peerCall: PeerCall, stream: MediaStream, go: () => void}} PreparedAnswer
 * A ringing device's connection holding the caller's offer; `go` lets it make the answer, once
 * `stream` holds the tracks to send.
 */

/**
 * A direct call, from the moment it is placed or rings until it ended. The host reads the
 * documented fields (docs/sdk.md); the others are the SDK's own and may change.
 */
export class DirectCall {
  /** @param {{id: string | null, role: 'caller' | 'callee', peer: User, media: Media}} init */
  constructor({ id, role, peer, media }) {
    /** The server's id of the call; null while the invite is on its way. */
    this.id = id;
    this.role = role;
    this.peer = peer;
    /** What the call carries: asked for, then agreed on. */
    this.media = media;
    /** @type {CallState} */
    this.state = role === 'caller' ? 'calling' : 'incoming';
    /** @type {number | null} */
    this.answeredAt = null;
    /** @type {number | null} */
    this.endedAt = null;
    /** @type {EndReason | null} */
    this.reason = null;
    /** @type {string | null} */
    this.by = null;
    // --- the SDK's own --------------------------------------------------------------------
    /** The tracks we send. @type {MediaStream | null} */
    this.stream = null;
    /** The call's connection, once answered. @type {PeerCall | null} */
    this.peerCall = null;
    this.cancelWanted = false;
    /** @type {RTCConfiguration} */
    this.configuration = {};
    /** The caller's connection made before the invite (offer and candidates held), or the
     * callee's made while it rang; it becomes `peerCall` once answered. @type {PeerCall | null} */
    this.prepared = null;
    /** The caller's offer that rode the invite. @type {string | null} */
    this.invitedOffer = null;
    /** (Callee) the answer that rode the accept, as held and as sent. @type {{held: string, sent: string} | null} */
    this.acceptedAnswer = null;
    /** The server's proof that the call was answered, for `resume-call`. @type {string | null} */
    this.ticket = null;
    /** (Ringing) the permissions of the devices each answer needs, asked while it rings.
     * @type {{audio: Promise<PermissionStatus[] | null>, video: Promise<PermissionStatus[] | null>} | null} */
    this.allowed = null;
    /** (Ringing) camera and microphone opened for a preview. @type {Promise<MediaStream | null> | null} */
    this.preview = null;
    /** @type {MediaStream | null} */
    this.previewStream = null;
    /** (Ringing) the connection holding the offer that came with the ringing. @type {PreparedAnswer | null} */
    this.answer = null;
    /** (Callee) the accept went out: the server may count the call as answered. */
    this.acceptSent = false;
    /** Our own invite crossed theirs (glare): this ringing is never shown. */
    this.glare = false;
    this.connectedOnce = false;
  }

  /** @returns {'outgoing' | 'incoming'} */
  get direction() {
    return this.role === 'caller' ? 'outgoing' : 'incoming';
  }

  /** What we send (while it rings: the preview, if one is open). */
  get localStream() {
    return this.stream ?? this.previewStream;
  }

  /** What the other side sends, once answered. */
  get remoteStream() {
    return this.peerCall?.remoteStream ?? null;
  }

  /** The call's RTCPeerConnection, once answered (for getStats and diagnostics). */
  get pc() {
    return this.peerCall?.pc ?? null;
  }

  /** Whole seconds since it was answered (until it ended); null if it never was. */
  get duration() {
    if (this.answeredAt === null) return null;
    return Math.round(((this.endedAt ?? Date.now()) - this.answeredAt) / 1000);
  }
}

/** Camera and microphone for `media`, each track noted. @param {Phone} phone @param {Media} media */
export async function acquire(phone, media) {
  const stream = await openLocalMedia(media);
  phone.openedTracks.push(...stream.getTracks());
  return stream;
}

/**
 * The connection of a call to the session `peerId` (null: not known yet, see PeerCall),
 * sending `stream`.
 * @param {Phone} phone
 * @param {{stream: MediaStream | null, configuration: RTCConfiguration}} call
 * @param {string | null} peerId @param {boolean} polite @param {Promise<unknown>} [tracksReady]
 */
export function newPeerCall(phone, { stream, configuration }, peerId, polite, tracksReady) {
  const signaling = phone.signaling;
  const peerCall = new PeerCall({
    send: (message) => (phone.signaling ?? signaling)?.send(message),
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

/**
 * The call is answered: negotiation starts, on the connection made while it rang when that
 * still fits (its held offer, answer and candidates go out now unless already delivered).
 * @param {Phone} phone @param {DirectCall} call
 * @param {{media: Media, peer: string, polite?: boolean, offer_taken?: boolean,
 *   answer?: string | null, answer_forwarded?: boolean, ticket?: string | null}} accepted
 * @param {Promise<unknown>} [tracksReady]  settles once call.stream holds the local tracks
 */
export function startMedia(phone, call, accepted, tracksReady) {
  const signaling = phone.signaling;
  if (call.peerCall || !call.stream || !signaling) return;
  call.ticket = accepted.ticket ?? null;
  // Servers before `polite` used the session-id rule, as rooms do.
  const polite = accepted.polite ?? /** @type {string} */ (signaling.sessionId) < accepted.peer;
  const offerTaken = accepted.offer_taken === true;
  let prepared = call.prepared;
  call.prepared = null;
  if (prepared && (prepared.polite !== polite || accepted.media !== call.media || (call.role === 'callee' && !offerTaken))) {
    // What was made while ringing no longer fits: the caller's offer carried video and the
    // answer is voice only, or an older server's roles differ, or (callee) the server did not
    // count our answer to the rung offer. Start afresh.
    prepared.close();
    prepared = null;
  }
  // Glare: the call that rang here is this very call, now answered.
  if (phone.ringing?.id === call.id) endRinging(phone, phone.ringing);
  if (accepted.media === 'audio') {
    // Answered with voice only: nobody sends video.
    for (const track of call.stream.getVideoTracks()) {
      track.stop();
      call.stream.removeTrack(track);
    }
  }
  call.media = accepted.media;
  const peerCall = prepared ?? newPeerCall(phone, call, accepted.peer, polite, tracksReady);
  if (call.role === 'caller') {
    prepared?.connectTo(accepted.peer, offerTaken ? call.invitedOffer : null);
    // The answer made while it rang came with the call's answer.
    if (prepared && typeof accepted.answer === 'string') prepared.acceptDescription({ type: 'answer', sdp: accepted.answer });
  } else {
    const forwarded = accepted.answer_forwarded ? call.acceptedAnswer : null;
    prepared?.connectTo(accepted.peer, forwarded?.held ?? null, forwarded?.sent ?? '');
  }
  call.peerCall = peerCall;
  call.state = 'accepted';
  call.answeredAt = Date.now();
  phone.startLive(peerCall, (message) => phone.signaling?.send({ ...message, to: peerCall.peerId }));
  phone.emit('accepted', { call });
  phone.emit('localstream', { call, stream: call.stream });
  phone.follow(peerCall, call);
  peerCall.start();
}

/**
 * Ends whatever call is going on (connection, tracks, timers) and says why.
 * @param {Phone} phone @param {Ending} ending
 */
export function finishCall(phone, { reason, by, error }) {
  const call = phone.current;
  const ringing = phone.ringing;
  phone.current = null;
  if (ringing) endRinging(phone, ringing);
  // The connection's summary, for this call's history row (the server checks it is ours).
  const summary = phone.stopLive();
  if (summary && call?.id) phone.signaling?.send({ type: 'quality', call: call.id, ...summary });
  call?.peerCall?.close();
  call?.prepared?.close();
  if (call) releaseStream(call);
  const ended = call ?? (ringing && !ringing.glare ? ringing : null);
  if (ended) announceEnd(phone, ended, { reason, by, error });
}

/**
 * The server ended a call: the current one, or the one ringing here.
 * @param {Phone} phone @param {{call: string, reason: EndReason, by: string | null}} ended
 * @param {DirectCall | null} [call]  the call an invite reply belongs to (its id is not set yet)
 */
export function onCallEnded(phone, ended, call = null) {
  const current = call ?? phone.current;
  if (current && (call || current.id === ended.call)) {
    finishCall(phone, ended);
    return;
  }
  const ringing = phone.ringing;
  if (ringing?.id !== ended.call) return;
  endRinging(phone, ringing);
  if (!ringing.glare) announceEnd(phone, ringing, ended);
}

/** @param {Phone} phone @param {DirectCall} call @param {Ending} ending */
function announceEnd(phone, call, { reason, by, error }) {
  if (call.state === 'ended') return;
  call.state = 'ended';
  call.endedAt = Date.now();
  call.reason = reason;
  call.by = by;
  phone.emit('ended', { call, reason, by, duration: call.duration, error: error ?? null });
}

/**
 * The ringing is over, answered or not. The preview's tracks and the connection made while it
 * rang go with the answer (`keep`), or are stopped and closed, whenever they finish opening.
 * @param {Phone} phone @param {DirectCall} ringing @param {boolean} [keep]
 */
export function endRinging(phone, ringing, keep = false) {
  if (phone.ringing === ringing) phone.ringing = null;
  const answer = ringing.answer;
  ringing.answer = null;
  if (answer && !keep) answer.peerCall.close();
  const preview = ringing.preview;
  ringing.preview = null;
  if (preview && !keep) {
    preview.then(stopStream);
    ringing.previewStream = null;
  }
}

/** @param {DirectCall} call */
export function releaseStream(call) {
  stopStream(call.stream);
  stopStream(call.previewStream);
  for (const track of call.peerCall?.localStream.getTracks() ?? []) track.stop();
  call.stream = null;
  call.previewStream = null;
}
