// Where browser engines differ, in one place: telling Firefox's SDP from the others', and
// making a sender send nothing in every engine.

/**
 * Whether Firefox made this SDP: its origin line reads `o=mozilla...THIS_IS_SDPARTA-…`, where
 * Chromium's and Safari's read `o=- …`. Read it from the SDP as it arrives: Chromium's
 * `remoteDescription` writes every origin line as its own.
 * @param {string | undefined} sdp
 */
export function madeByFirefox(sdp) {
  return /^o=mozilla/m.test(sdp ?? '');
}

/**
 * Whether `sender` puts anything on the wire (its encodings active or not); the track and the
 * negotiated session stay as they are, so turning it back on needs no renegotiation. Without a
 * track Firefox still re-sends the last frame about once a second; an inactive encoding sends
 * nothing in every engine.
 * @param {RTCRtpSender} sender @param {boolean} active
 */
export async function setSending(sender, active) {
  const parameters = sender.getParameters();
  if (!parameters.encodings?.length || parameters.encodings.every((e) => (e.active ?? true) === active)) return;
  for (const encoding of parameters.encodings) encoding.active = active;
  try {
    await sender.setParameters(parameters);
  } catch (error) {
    console.warn('parley: could not turn the', sender.track?.kind ?? 'media', 'sender', active ? 'on' : 'off', error);
  }
}

/**
 * Whether this device has a network to gather a candidate on now: a throwaway connection asks
 * (with no interface up, Firefox's gathering ends at once with none). Firefox must not restart
 * ICE without one: that restart gathers nothing, the next restart then fails its ICE, and a
 * failed ICE takes its DTLS down for good: it never sends again on that connection.
 * @param {number} [timeoutMs]
 */
export async function hasNetwork(timeoutMs = 2000) {
  const pc = new RTCPeerConnection();
  try {
    pc.createDataChannel('probe');
    const found = new Promise((resolve) => {
      pc.addEventListener('icecandidate', ({ candidate }) => resolve(!!candidate?.candidate));
      window.setTimeout(() => resolve(false), timeoutMs);
    });
    await pc.setLocalDescription();
    return await found;
  } finally {
    pc.close();
  }
}
