// Connection figures from RTCPeerConnection.getStats(): what the stats panel shows, a simple
// good / fair / poor verdict, and the summary sent to the server at hang-up. No DOM here.

/**
 * @typedef {{
 *   rttMs: number | null, jitterMs: number | null, lossPercent: number | null,
 *   sendKbps: number | null, receiveKbps: number | null,
 *   width: number | null, height: number | null, fps: number | null, codec: string | null,
 *   candidateType: string | null, protocol: string | null, quality: 'good' | 'fair' | 'poor' | null
 * }} Figures
 */

/** @param {number | null} rttMs @param {number | null} lossPercent @param {number | null} jitterMs */
export function judge(rttMs, lossPercent, jitterMs) {
  if (rttMs === null && lossPercent === null) return null;
  const rtt = rttMs ?? 0;
  const loss = lossPercent ?? 0;
  const jitter = jitterMs ?? 0;
  // Roughly ITU-T G.114 (mouth-to-ear delay) and what codecs conceal without audible damage.
  if (rtt <= 300 && loss <= 2 && jitter <= 30) return 'good';
  if (rtt <= 600 && loss <= 8 && jitter <= 80) return 'fair';
  return 'poor';
}

export class CallStats {
  /** @param {RTCPeerConnection} pc */
  constructor(pc) {
    this.pc = pc;
    /** @type {{at: number, sent: number, received: number, lost: number, packets: number} | null} */
    this.previous = null;
    // Running totals, not every sample: a call may last for hours.
    this.rtt = { sum: 0, count: 0, max: 0 };
    this.send = { sum: 0, count: 0 };
    this.receive = { sum: 0, count: 0 };
    this.lost = 0;
    this.packets = 0;
    /** @type {Figures | null} */
    this.latest = null;
  }

  /** Reads the stats once; call every second or two. @returns {Promise<Figures>} */
  async sample() {
    const report = await this.pc.getStats();
    // `any`: a report mixes a dozen kinds of stats dictionary, told apart by `type` (the DOM
    // typings give RTCStatsReport `any` values too); each field read below is checked for absence.
    /** @type {Map<string, any>} */
    const byId = new Map();
    report.forEach((entry) => byId.set(entry.id, entry));
    let sent = 0;
    let received = 0;
    let lost = 0;
    let packets = 0;
    let jitter = null;
    let video = null;
    let audioCodec = null;
    let pair = null;
    for (const entry of byId.values()) {
      if (entry.type === 'outbound-rtp') sent += entry.bytesSent ?? 0;
      if (entry.type === 'inbound-rtp') {
        received += entry.bytesReceived ?? 0;
        lost += Math.max(0, entry.packetsLost ?? 0);
        packets += entry.packetsReceived ?? 0;
        if (entry.kind === 'audio') {
          jitter = (entry.jitter ?? 0) * 1000;
          audioCodec = byId.get(entry.codecId)?.mimeType ?? audioCodec;
        }
        if (entry.kind === 'video') video = entry;
      }
      if (entry.type === 'transport' && entry.selectedCandidatePairId) pair = byId.get(entry.selectedCandidatePairId);
    }
    pair ??= [...byId.values()].find((e) => e.type === 'candidate-pair' && e.nominated && e.state === 'succeeded');
    const local = pair ? byId.get(pair.localCandidateId) : null;
    const now = performance.now();
    let sendKbps = null;
    let receiveKbps = null;
    let lossPercent = null;
    if (this.previous) {
      const seconds = (now - this.previous.at) / 1000;
      if (seconds > 0) {
        sendKbps = Math.max(0, ((sent - this.previous.sent) * 8) / 1000 / seconds);
        receiveKbps = Math.max(0, ((received - this.previous.received) * 8) / 1000 / seconds);
      }
      const newLost = lost - this.previous.lost;
      const newPackets = packets - this.previous.packets;
      if (newLost + newPackets > 0) lossPercent = (100 * Math.max(0, newLost)) / (newLost + newPackets);
    }
    this.previous = { at: now, sent, received, lost, packets };
    const rttMs = pair?.currentRoundTripTime != null ? pair.currentRoundTripTime * 1000 : null;
    if (rttMs !== null) {
      this.rtt.sum += rttMs;
      this.rtt.count += 1;
      this.rtt.max = Math.max(this.rtt.max, rttMs);
    }
    if (sendKbps !== null) {
      this.send.sum += sendKbps;
      this.send.count += 1;
    }
    if (receiveKbps !== null) {
      this.receive.sum += receiveKbps;
      this.receive.count += 1;
    }
    this.lost = lost;
    this.packets = packets;
    const codec = (video ? byId.get(video.codecId)?.mimeType : null) ?? audioCodec;
    this.latest = {
      rttMs,
      jitterMs: jitter,
      lossPercent,
      sendKbps,
      receiveKbps,
      width: video?.frameWidth ?? null,
      height: video?.frameHeight ?? null,
      fps: video?.framesPerSecond ?? null,
      codec: codec ? codec.replace(/^(audio|video)\//, '') : null,
      candidateType: local?.candidateType ?? null,
      protocol: local?.protocol ?? null,
      quality: judge(rttMs, lossPercent, jitter),
    };
    return this.latest;
  }

  /**
   * The whole call in a few numbers, as the `quality` message carries it.
   * @param {number} durationSeconds
   * @returns {{durationSeconds: number, rttMeanMs: number | null, rttMaxMs: number | null,
   *   lossPercent: number | null, sendKbps: number | null, receiveKbps: number | null,
   *   candidateType: 'host' | 'srflx' | 'prflx' | 'relay' | null, protocol: 'udp' | 'tcp' | null}}
   */
  summary(durationSeconds) {
    const mean = (/** @type {{sum: number, count: number}} */ total) => (total.count ? total.sum / total.count : null);
    const round = (/** @type {number | null} */ value) => (value === null ? null : Math.round(value * 10) / 10);
    const total = this.lost + this.packets;
    const type = this.latest?.candidateType;
    const protocol = this.latest?.protocol;
    return {
      durationSeconds: round(Math.max(0, durationSeconds)) ?? 0,
      rttMeanMs: round(mean(this.rtt)),
      rttMaxMs: this.rtt.count ? round(this.rtt.max) : null,
      lossPercent: total > 0 ? round((100 * this.lost) / total) : null,
      sendKbps: round(mean(this.send)),
      receiveKbps: round(mean(this.receive)),
      candidateType: type === 'host' || type === 'srflx' || type === 'prflx' || type === 'relay' ? type : null,
      protocol: protocol === 'udp' || protocol === 'tcp' ? protocol : null,
    };
  }
}
