// Watches that media really arrives, not only that ICE says `connected`: a path can stay
// "connected" while nothing comes (after a restart Chromium was seen sending to a Firefox port
// of the previous ICE generation, for good). It counts the inbound RTP bytes of the call:
// - quiet for STALL_AFTER_MS while ICE is up: the path is dead though ICE does not know; the
//   call recovers as from an ICE failure (peer-call.js: the restarter restarts);
// - quiet for long enough that a person would ask: it says why in plain terms (`trouble`):
//   this device is offline, the TURN server refused our credentials (401) or never gave a relay
//   candidate (not reached), or simply no path was found; and null once media flows again;
// - quiet for GIVE_UP_AFTER_MS, restarts included: the call cannot go on (`failed`), and ends
//   on both sides as `media-failed` rather than as a silent call that never ends.
// Every call sends audio all along (a muted microphone sends silence), so quiet means broken.

const CHECK_EVERY_MS = 1000;
/** Quiet this long with ICE up: recover. Two missed seconds of audio are 100 packets. */
export const STALL_AFTER_MS = 4000;
/** Before the first media: ICE through TURN over TCP/TLS takes a few seconds, say nothing yet. */
const FIRST_MEDIA_GRACE_MS = 10_000;
/** Quiet this long, restarts included (a restart's retries back off to 20 s): give up. */
export const GIVE_UP_AFTER_MS = 30_000;
/** RTCPeerConnectionIceErrorEvent.errorCode of a TURN server refusing the credentials. */
const TURN_UNAUTHORIZED = 401;

/**
 * Why media does not get through, as far as this side can tell.
 * @typedef {'offline' | 'turn-refused' | 'turn-unreachable' | 'no-path'} Trouble
 * @typedef {{stalled: () => void, trouble: (trouble: Trouble | null) => void,
 *   failed: (trouble: Trouble) => void}} MediaWatchHandlers
 * What gathering met: error codes (e.g. a TURN server's 401), and whether a relay candidate came.
 * @typedef {{errors: Set<number>, relay: boolean}} Gathering
 */

/**
 * Follows `pc`'s gathering from its start (a call's connection is made while it rings, before
 * there is anything to watch). @param {RTCPeerConnection} pc @returns {Gathering}
 */
export function watchGathering(pc) {
  /** @type {Gathering} */
  const gathering = { errors: new Set(), relay: false };
  pc.addEventListener('icecandidateerror', (event) => {
    gathering.errors.add(/** @type {RTCPeerConnectionIceErrorEvent} */ (event).errorCode);
  });
  pc.addEventListener('icecandidate', ({ candidate }) => {
    if (candidate?.type === 'relay') gathering.relay = true;
  });
  return gathering;
}

export class MediaWatch {
  /**
   * @param {import('./peer-call.js').PeerCall} call
   * @param {MediaWatchHandlers} handlers
   */
  constructor(call, handlers) {
    this.call = call;
    this.handlers = handlers;
    this.bytes = 0;
    this.flowedOnce = false;
    this.lastGrowthAt = performance.now();
    /** @type {Trouble | null} */
    this.told = null;
    /** What the call's quality report says stopped media, kept after media comes back: the
     * last cause met, except that `no-path` (nothing more is known) never hides a known one
     * (offline, TURN refused or unreachable): coming back online, a call is quiet a few
     * seconds more, and that is not news. @type {Trouble | null} */
    this.met = null;
    this.stallTold = false;
    this.iceDownAt = 0;
    this.checking = false;
    this.stopped = false;
    this.timer = window.setInterval(() => void this.#check(), CHECK_EVERY_MS);
  }

  /** What is wrong now, as well as this side can tell. @returns {Trouble} */
  get trouble() {
    if (navigator.onLine === false) return 'offline';
    const { errors, relay } = this.call.gathering;
    if (errors.has(TURN_UNAUTHORIZED)) return 'turn-refused';
    const turn = this.call.pc.getConfiguration().iceServers?.some((server) =>
      [server.urls].flat().some((url) => url.startsWith('turn')));
    // A TURN server was given and never gave a relay candidate: not reached (or no answer).
    return turn && !relay ? 'turn-unreachable' : 'no-path';
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    window.clearInterval(this.timer);
  }

  async #check() {
    if (this.stopped || this.checking || this.call.closed) return;
    this.checking = true;
    let bytes = 0;
    try {
      (await this.call.pc.getStats()).forEach((stat) => {
        if (stat.type === 'inbound-rtp') bytes += stat.bytesReceived ?? 0;
      });
    } catch {
      return; // closed meanwhile
    } finally {
      this.checking = false;
    }
    if (this.stopped) return;
    const now = performance.now();
    if (bytes > this.bytes) {
      this.#flowing(bytes, now);
      return;
    }
    const quiet = now - this.lastGrowthAt;
    if (quiet >= GIVE_UP_AFTER_MS) {
      this.stop();
      this.#meet(this.trouble);
      this.handlers.failed(this.trouble);
      return;
    }
    const ice = this.call.pc.iceConnectionState;
    const iceUp = ice === 'connected' || ice === 'completed';
    // Quiet counts for a stall only while ICE is up: as it comes back, media takes a moment.
    if (!iceUp) this.iceDownAt = now;
    if (iceUp && quiet >= STALL_AFTER_MS && now - this.iceDownAt >= STALL_AFTER_MS && !this.stallTold) {
      this.stallTold = true;
      this.handlers.stalled();
    }
    if (quiet >= (this.flowedOnce ? STALL_AFTER_MS : FIRST_MEDIA_GRACE_MS) && this.told !== this.trouble) {
      this.told = this.trouble;
      this.#meet(this.told);
      this.handlers.trouble(this.told);
    }
  }

  /** @param {Trouble} trouble */
  #meet(trouble) {
    if (trouble !== 'no-path' || this.met === null) this.met = trouble;
  }

  /** @param {number} bytes @param {number} now */
  #flowing(bytes, now) {
    this.bytes = bytes;
    this.flowedOnce = true;
    this.lastGrowthAt = now;
    this.stallTold = false;
    this.call.gathering.errors.clear(); // what failed before media came is no longer the cause
    if (this.told !== null) {
      this.told = null;
      this.handlers.trouble(null);
    }
  }
}
