// Placing a direct call: camera and microphone, ICE servers, the offer made before the invite
// (it rides the invite, without addresses, so the callee's devices take it in while they ring),
// the invite and its reply; and cancelling or hanging up.
import { withoutAddresses } from './sdp.js';
import { acquire, finishCall, newPeerCall, onCallEnded, releaseStream, startMedia } from './direct-call.js';

/**
 * @typedef {import('./phone.js').Phone} Phone
 * @typedef {import('./direct-call.js').DirectCall} DirectCall
 * @typedef {import('./peer-call.js').PeerCall} PeerCall
 * @typedef {import('./signaling.js').RingingMessage} RingingMessage
 * @typedef {import('./signaling.js').CallEndedMessage} CallEndedMessage
 * @typedef {import('./signaling.js').CallAcceptedMessage} CallAcceptedMessage
 * @typedef {RingingMessage | CallEndedMessage | CallAcceptedMessage} InviteReply
 * `invite` is answered by `ringing` or `call-ended`; by `call-accepted` after a glare.
 */

// How long the invite waits for the offer it carries; a slower one goes once answered.
const INVITE_OFFER_WAIT_MS = 1500;

/** Rings `call.peer` (the call is `phone.current` already). @param {Phone} phone @param {DirectCall} call */
export async function dial(phone, call) {
  try {
    call.stream = await acquire(phone, call.media);
  } catch (error) {
    finishCall(phone, { reason: 'failed', by: null, error });
    return;
  }
  const signaling = phone.signaling;
  if (phone.current !== call || !signaling) return releaseStream(call);
  // ICE servers before the invite: once answered, negotiation must start without a wait.
  call.configuration = await signaling.iceConfiguration({ to: call.peer.id });
  if (phone.current !== call) return releaseStream(call);
  // The offer is made before the invite and rides it: the callee's devices take it in while
  // they ring, so that answering has little left to do.
  prepareConnection(phone, call);
  const prepared = call.prepared;
  const offer = prepared ? await heldOffer(prepared) : null;
  if (phone.current !== call || !phone.signaling) return;
  // Replaced meanwhile (a network change): its offer goes once answered, as without one here.
  call.invitedOffer = call.prepared === prepared ? offer : null;
  await invite(phone, call);
}

/** @param {Phone} phone @param {DirectCall} call */
async function invite(phone, call) {
  // takes_answer: an answer the callee made while ringing may come with call-accepted.
  /** @type {{type: 'invite', to: string, media: 'audio' | 'video', caller_offers: boolean,
   *   takes_answer: boolean, offer?: string}} */
  const message = { type: 'invite', to: call.peer.id, media: call.media, caller_offers: true, takes_answer: true };
  if (call.invitedOffer) message.offer = withoutAddresses(call.invitedOffer);
  /** @type {InviteReply} */
  let reply;
  try {
    reply = /** @type {InviteReply} */ (await /** @type {NonNullable<Phone['signaling']>} */ (phone.signaling).request(message));
  } catch (error) {
    finishCall(phone, { reason: 'failed', by: null, error });
    return;
  }
  if (phone.current !== call) return;
  if (reply.type === 'call-ended') {
    onCallEnded(phone, reply, call);
  } else if (reply.type === 'call-accepted') {
    // Both called each other at once: the server joined the two attempts into this one call.
    call.id = reply.call;
    startMedia(phone, call, reply);
  } else {
    call.id = reply.call;
    call.state = 'ringing';
    phone.emit('ringing', { call });
    if (call.cancelWanted) cancelCall(phone);
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
 * @param {Phone} phone @param {DirectCall} call
 */
export function prepareConnection(phone, call) {
  if (!phone.signaling || !call.stream) return;
  call.prepared = newPeerCall(phone, call, null, false);
  call.prepared.start();
}

/** Stops the call ringing at the other side (once the invite has its id). @param {Phone} phone */
export function cancelCall(phone) {
  const call = phone.current;
  const signaling = phone.signaling;
  if (!call || !signaling || call.role !== 'caller' || call.peerCall) return;
  if (call.id === null) {
    call.cancelWanted = true; // the invite is still on its way; cancel once it has an id
    return;
  }
  signaling.request({ type: 'cancel', call: call.id }).then(
    (reply) => onCallEnded(phone, /** @type {CallEndedMessage} */ (reply)),
    () => finishCall(phone, { reason: 'cancelled', by: phone.user?.id ?? null }),
  );
}

/**
 * Ends the call (a call not answered yet is cancelled): the person hung up, or no media got
 * through (`media-failed`, said to both sides).
 * @param {Phone} phone @param {'hangup' | 'media-failed'} [reason]
 */
export function hangUp(phone, reason = 'hangup') {
  const call = phone.current;
  const signaling = phone.signaling;
  if (!call || !signaling) return;
  if (call.id === null) return cancelCall(phone);
  const message = reason === 'hangup' ? { type: 'hangup', call: call.id } : { type: 'hangup', call: call.id, reason };
  if (!signaling.connected) {
    // Reconnecting: the hang-up goes out with the resumed session; the call ends here now.
    signaling.send(message);
    finishCall(phone, { reason, by: phone.user?.id ?? null });
    return;
  }
  signaling.request(message).then(
    (reply) => onCallEnded(phone, /** @type {CallEndedMessage} */ (reply)),
    () => finishCall(phone, { reason, by: phone.user?.id ?? null }),
  );
}
