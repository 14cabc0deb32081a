// One RTCPeerConnection to one peer, negotiated with the "perfect negotiation" pattern: both
// sides may offer at any time; on a collision the polite side yields and the impolite side
// ignores the other's offer. Candidates trickle as they are found.
//
// The first exchange is made collision-free on purpose: the impolite side offers first and the
// polite side adds its tracks when that offer arrives. Chromium's ICE agent was seen to stop
// gathering for good when the implicit rollback hit an offer still being set locally.

/**
 * Events: `track` (detail: the remote MediaStream), `state` (detail: connectionState),
 * `error` (detail: Error).
 */
export class PeerCall extends EventTarget {
  /**
   * @param {object} options
   * @param {(message: object) => void} options.send  sends a protocol message
   * @param {string} options.peerId   the other member's session id
   * @param {boolean} options.polite  true on exactly one of the two sides
   * @param {MediaStream} options.localStream
   * @param {RTCConfiguration} options.configuration  ICE servers and transport policy
   */
  constructor({ send, peerId, polite, localStream, configuration }) {
    super();
    this.send = send;
    this.peerId = peerId;
    this.polite = polite;
    this.localStream = localStream;
    this.remoteStream = new MediaStream();
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.closed = false;
    this.tracksAdded = false;
    this.pc = new RTCPeerConnection(configuration);
    this.#wire();
  }

  /** The impolite side adds its tracks now (negotiationneeded then offers); the polite side
   * waits for that first offer. */
  start() {
    if (!this.polite) this.#addLocalTracks();
  }

  /** @param {{type: 'offer' | 'answer', sdp: string}} description */
  async acceptDescription(description) {
    if (this.closed) return;
    const pc = this.pc;
    console.debug('parley: remote', description.type, 'in', pc.signalingState, 'makingOffer', this.makingOffer);
    try {
      const collision = description.type === 'offer' && (this.makingOffer || pc.signalingState !== 'stable');
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      await pc.setRemoteDescription(description);
      if (description.type === 'offer') {
        // Tracks added now reuse the offer's transceivers, so the answer carries them.
        this.#addLocalTracks();
        await pc.setLocalDescription();
        this.#sendDescription();
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  /** @param {RTCIceCandidateInit | null} candidate */
  async acceptCandidate(candidate) {
    if (this.closed) return;
    console.debug('parley: remote candidate', candidate ? 'one' : 'end', 'in', this.pc.signalingState);
    try {
      await this.pc.addIceCandidate(candidate ?? undefined);
    } catch (error) {
      // Candidates for an offer we chose to ignore are expected to fail.
      if (!this.ignoreOffer) this.#fail(error);
    }
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.pc.close();
    for (const track of this.remoteStream.getTracks()) this.remoteStream.removeTrack(track);
  }

  #addLocalTracks() {
    if (this.tracksAdded) return;
    this.tracksAdded = true;
    for (const track of this.localStream.getTracks()) this.pc.addTrack(track, this.localStream);
  }

  #wire() {
    const pc = this.pc;
    pc.addEventListener('negotiationneeded', async () => {
      console.debug('parley: negotiationneeded in', pc.signalingState);
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        this.#sendDescription();
      } catch (error) {
        this.#fail(error);
      } finally {
        this.makingOffer = false;
      }
    });
    pc.addEventListener('icegatheringstatechange', () => console.debug('parley: gathering', pc.iceGatheringState));
    pc.addEventListener('icecandidate', ({ candidate }) => {
      this.send({ type: 'candidate', to: this.peerId, candidate: candidate ? candidate.toJSON() : null });
    });
    pc.addEventListener('track', ({ track }) => {
      this.remoteStream.addTrack(track);
      this.dispatchEvent(new CustomEvent('track', { detail: this.remoteStream }));
    });
    pc.addEventListener('connectionstatechange', () => {
      this.dispatchEvent(new CustomEvent('state', { detail: pc.connectionState }));
    });
  }

  #sendDescription() {
    const { type, sdp } = this.pc.localDescription;
    console.debug('parley: send', type);
    this.send({ type, to: this.peerId, sdp });
  }

  /** @param {unknown} error */
  #fail(error) {
    if (this.closed) return;
    this.dispatchEvent(new CustomEvent('error', { detail: error }));
  }
}
