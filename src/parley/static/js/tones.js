// Ringback (the caller hears it while the other side rings) and the ringtone, synthesised with
// WebAudio: no audio files to ship. Each tone owns one interval; stop() leaves nothing running.

/** @type {AudioContext | null} */
let context = null;

function audio() {
  context ??= new AudioContext();
  // Browsers start a context suspended until the page has had a user gesture; resume when we can.
  if (context.state === 'suspended') context.resume().catch(() => {});
  return context;
}

/**
 * A repeating pattern of beeps.
 * @typedef {{frequencies: number[], beeps: [number, number][], period: number}} TonePattern
 *   beeps: [start, duration] in seconds within each period
 */
class Tone {
  /** @param {TonePattern} pattern */
  constructor(pattern) {
    this.pattern = pattern;
    /** @type {number | null} */
    this.interval = null;
    /** @type {OscillatorNode[]} */
    this.oscillators = [];
  }

  start() {
    if (this.interval !== null) return;
    this.#cycle();
    this.interval = window.setInterval(() => this.#cycle(), this.pattern.period * 1000);
  }

  stop() {
    if (this.interval !== null) window.clearInterval(this.interval);
    this.interval = null;
    for (const oscillator of this.oscillators) {
      try {
        oscillator.stop();
      } catch {
        // already stopped
      }
      oscillator.disconnect();
    }
    this.oscillators = [];
  }

  get running() {
    return this.interval !== null;
  }

  #cycle() {
    const ctx = audio();
    const now = ctx.currentTime;
    for (const [offset, duration] of this.pattern.beeps) {
      const gain = ctx.createGain();
      gain.gain.setValueAtTime(0, now + offset);
      gain.gain.linearRampToValueAtTime(0.15, now + offset + 0.02);
      gain.gain.setValueAtTime(0.15, now + offset + duration - 0.02);
      gain.gain.linearRampToValueAtTime(0, now + offset + duration);
      gain.connect(ctx.destination);
      for (const frequency of this.pattern.frequencies) {
        const oscillator = ctx.createOscillator();
        oscillator.frequency.value = frequency;
        oscillator.connect(gain);
        oscillator.start(now + offset);
        oscillator.stop(now + offset + duration);
        oscillator.onended = () => {
          oscillator.disconnect();
          this.oscillators = this.oscillators.filter((o) => o !== oscillator);
        };
        this.oscillators.push(oscillator);
      }
    }
  }
}

// 450 Hz, 1 s on 4 s off: the ringback callers in China know.
export const ringback = new Tone({ frequencies: [450], beeps: [[0, 1]], period: 5 });
// A two-tone burst, twice, every 3 s.
export const ringtone = new Tone({ frequencies: [660, 880], beeps: [[0, 0.4], [0.6, 0.4]], period: 3 });

export function stopAllTones() {
  ringback.stop();
  ringtone.stop();
}

export function tonesRunning() {
  return Number(ringback.running) + Number(ringtone.running);
}
