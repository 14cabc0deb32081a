// A direct call ringing here: taking the caller's offer in while it rings (and, with the camera
// preview on, making the answer too), then accepting (the answer rides the accept) or rejecting.
// Nothing of this device (no address, no answer) reaches the caller before the user answers.
import { ParleyError } from './errors.js';
import { withoutAddresses } from './sdp.js';
import { stopStream } from './capture.js';
import { DirectCall, acquire, endRinging, finishCall, newPeerCall, onCallEnded, startMedia } from './direct-call.js';

/**
 * @typedef {import('./phone.js').Phone} Phone
 * @typedef {import('./signaling.js').IncomingCallMessage} IncomingCallMessage
 * @typedef {import('./signaling.js').CallAcceptedMessage} CallAcceptedMessage
 * @typedef {import('./signaling.js').CallEndedMessage} CallEndedMessage
 */

/** @param {Phone} phone @param {IncomingCallMessage} detail */
export function onIncoming(phone, detail) {
  const current = phone.current;
  const init = { id: detail.call, role: /** @type {const} */ ('callee'), peer: detail.caller, media: detail.media };
  if (current) {
    if (current.peer.id === detail.caller.id && current.id === null) {
      // We are dialling them as they dial us: our invite will answer this call (glare).
      phone.ringing = new DirectCall(init);
      phone.ringing.glare = true;
    } else {
      phone.signaling?.send({ type: 'reject', call: detail.call }); // busy on this device
    }
    return;
  }
  // One call rings at a time (the server says busy); one whose end never arrived gives way.
  if (phone.ringing) endRinging(phone, phone.ringing);
  const call = new DirectCall(init);
  call.allowed = { audio: devicePermissions('audio'), video: devicePermissions('video') };
  phone.ringing = call;
  phone.emit('incoming', { call });
  if (detail.media === 'video' && phone.previewWhileRinging) previewWhileRinging(phone, call);
  if (typeof detail.offer === 'string') prepareAnswer(phone, call, detail.offer);
}

/**
 * The caller's offer came with the ringing: this device takes it in now (the remote
 * description, its transceivers and remote tracks), the longest step of an answer. The answer
 * follows `go`: while ringing if the preview holds the tracks (answerWhileRinging), else once
 * answered. Nothing is sent (none of this device's addresses) until the user answers.
 * @param {Phone} phone @param {DirectCall} call @param {string} offer
 */
async function prepareAnswer(phone, call, offer) {
  const signaling = phone.signaling;
  if (!signaling) return;
  const configuration = await signaling.iceConfiguration();
  if (phone.ringing !== call) return;
  let go = () => {};
  const tracksReady = new Promise((resolve) => {
    go = () => resolve(undefined);
  });
  const stream = new MediaStream();
  // Its candidates are gathered now too (local interfaces, STUN and TURN servers; nothing
  // reaches the caller): they are ready when the answer is made, and checks start at once.
  const pooled = { ...configuration, iceCandidatePoolSize: 1 };
  const peerCall = newPeerCall(phone, { stream, configuration: pooled }, null, true, tracksReady);
  call.answer = { peerCall, stream, go };
  // Addresses in it (a caller other than Parley's own) would draw checks from this device.
  peerCall.acceptDescription({ type: 'offer', sdp: withoutAddresses(offer) });
  answerWhileRinging(phone, call);
}

/**
 * The preview's tracks are the ones a video answer sends: with them and the caller's offer, the
 * answer is made while the call rings and held (with this device's candidates) until the user
 * answers; it then rides the accept. Answering with voice only drops it (accept).
 * @param {Phone} phone @param {DirectCall} call
 */
function answerWhileRinging(phone, call) {
  const answer = call.answer;
  const preview = call.previewStream;
  if (phone.ringing !== call || !answer || !preview) return;
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
 * @param {Phone} phone @param {DirectCall} call
 */
async function previewWhileRinging(phone, call) {
  const allowed = allGranted(await call.allowed?.video);
  if (phone.ringing !== call || !allowed) return;
  call.preview = acquire(phone, 'video').catch(() => null); // answering opens them again
  const stream = await call.preview;
  if (stream && phone.ringing === call) {
    call.previewStream = stream;
    phone.emit('preview', { call, stream });
    answerWhileRinging(phone, call);
  }
}

/** Answers the call ringing here with `media`. @param {Phone} phone @param {'audio' | 'video'} media */
export async function accept(phone, media) {
  const call = phone.ringing;
  const signaling = phone.signaling;
  if (!call || call.glare || !signaling) return;
  const preview = call.preview;
  // The caller's offer taken in while ringing fits an answer with the call's own media only.
  let answer = call.answer;
  const held = answer?.peerCall.heldAnswer() ?? null;
  // (Still taking the offer in at the click, or failed to: the caller sends it again.)
  if (answer && (media !== call.media || (answer.peerCall.pc.signalingState !== 'have-remote-offer' && held === null))) {
    answer.peerCall.close();
    answer = null;
  }
  // The answer made while ringing rides the accept, as the connection has it now: with the
  // addresses gathered meanwhile (the caller may have them now).
  const acceptedAnswer = answer && held !== null ? { held, sent: answer.peerCall.pc.localDescription?.sdp ?? held } : null;
  endRinging(phone, call, true);
  call.media = media;
  call.state = 'accepting';
  call.prepared = answer?.peerCall ?? null;
  call.acceptedAnswer = acceptedAnswer;
  phone.current = call;
  call.configuration = await signaling.iceConfiguration();
  if (phone.current !== call) {
    preview?.then(stopStream); // ended before it had a stream
    return;
  }
  call.stream = answer?.stream ?? new MediaStream();
  const opening = await openForAnswer(phone, call, media, preview);
  if (!opening) return;
  const { opened } = opening;
  // Not made while ringing: the answer is made once the tracks are in, while the accept
  // travels; it goes out when call-accepted names the caller's session.
  if (answer) opened.then(answer.go);
  if (phone.current !== call) return;
  await sendAccept(phone, call, media, answer !== null, opened);
}

/**
 * Starts opening camera and microphone for the answer: at once when the browser will not ask
 * (the camera starts while the answer travels; nothing before our own answer needs it, and a
 * camera can take a good while), or first when it will (a prompt left open must not hold an
 * answered call: the call keeps ringing until the user has allowed it). Null if that failed.
 * (`opened` is wrapped: an async function would wait for a promise it returns.)
 * @param {Phone} phone @param {DirectCall} call @param {'audio' | 'video'} media
 * @param {Promise<MediaStream | null> | null} preview
 * @returns {Promise<{opened: Promise<boolean>} | null>}
 */
async function openForAnswer(phone, call, media, preview) {
  if (preview) return { opened: openInto(phone, call, media, preview) };
  if (allGranted(await (call.allowed?.[media] ?? devicePermissions(media)))) {
    return { opened: openInto(phone, call, media) };
  }
  return (await openInto(phone, call, media)) ? { opened: Promise.resolve(true) } : null;
}

/**
 * @param {Phone} phone @param {DirectCall} call @param {'audio' | 'video'} media
 * @param {boolean} offerTaken @param {Promise<unknown>} opened
 */
async function sendAccept(phone, call, media, offerTaken, opened) {
  const signaling = /** @type {NonNullable<Phone['signaling']>} */ (phone.signaling);
  const acceptedAnswer = call.acceptedAnswer;
  call.acceptSent = true;
  try {
    const reply = await signaling.request({
      type: 'accept',
      call: call.id,
      media,
      caller_offers: true,
      offer_taken: offerTaken,
      ...(acceptedAnswer ? { answer: acceptedAnswer.sent } : {}),
    });
    if (phone.current === call) startMedia(phone, call, /** @type {CallAcceptedMessage} */ (reply), opened);
  } catch (error) {
    if (phone.current !== call) return;
    if (error instanceof ParleyError && error.code === 'closed') {
      // The socket went with the accept in flight: the server may have taken it, and the
      // caller would wait on a call nobody answers here. The hang-up goes out with the resumed
      // session (it declines the call if the accept never arrived).
      phone.signaling?.send({ type: 'hangup', call: call.id });
      finishCall(phone, { reason: 'connection-lost', by: null });
      return;
    }
    // The caller gave up (or another device answered) while we were getting ready.
    finishCall(phone, { reason: 'cancelled', by: call.peer.id });
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
 * @param {Phone} phone @param {DirectCall} call @param {'audio' | 'video'} media
 * @param {Promise<MediaStream | null>} [opening]
 */
async function openInto(phone, call, media, opening) {
  let stream;
  try {
    stream = (await opening) ?? (await acquire(phone, media));
  } catch (error) {
    if (phone.current !== call) return false;
    // Not a refusal: this device could not take the call (not a secure page, no devices,
    // access refused), and the caller is told so. Once the accept went out the call may be
    // answered already: then it is hung up.
    const ending = call.acceptSent ? { type: 'hangup' } : { type: 'reject', reason: 'cannot-answer' };
    phone.signaling?.send({ ...ending, call: call.id });
    finishCall(phone, { reason: 'failed', by: null, error });
    return false;
  }
  if (phone.current !== call || !call.stream) {
    stopStream(stream);
    return false;
  }
  const muted = phone.live?.local.muted ?? false; // muted while the camera was opening
  for (const track of stream.getTracks()) {
    if (track.kind === 'video' && call.media === 'audio') {
      track.stop(); // agreed on voice only
      continue;
    }
    if (track.kind === 'audio') track.enabled = !muted;
    call.stream.addTrack(track);
  }
  if (call.peerCall) phone.emit('localstream', { call, stream: call.stream });
  return true;
}

/** Turns the call ringing here down. @param {Phone} phone */
export function reject(phone) {
  const call = phone.ringing;
  const signaling = phone.signaling;
  if (!call || call.glare || !signaling) return;
  signaling.request({ type: 'reject', call: call.id }).then(
    (reply) => onCallEnded(phone, /** @type {CallEndedMessage} */ (reply)),
    () => finishCall(phone, { reason: 'declined', by: phone.user?.id ?? null }),
  );
}
