// What this side sends during a call that is up, and the state it tells the other side about:
// mute, camera off and on, the camera joining a voice call, screen share, and the device in use
// (chosen, or replaced when it is unplugged). live-call.js owns one and announces its changes.
//
// Changes use RTCRtpSender.replaceTrack, so they need no renegotiation and the other direction
// never pauses; only startVideo adds a track (once the other side agreed to video).
import { openScreen, openTrack, rememberDevice } from './capture.js';

/**
 * What one side sends, as `media-state` tells it.
 * @typedef {{muted: boolean, cameraOff: boolean, screen: boolean}} MediaState
 * @typedef {'mic-gone' | 'camera-gone' | 'mic-failed' | 'camera-failed'} MediaWarning
 */

export class LocalMedia {
  /**
   * @param {object} options
   * @param {import('./peer-call.js').PeerCall} options.call
   * @param {(track: MediaStreamTrack) => void} options.trackOpened  every local track this opens
   * @param {() => void} options.changed  the state changed: tell the other side
   * @param {() => void} options.streamChanged  the tracks of call.localStream changed
   * @param {(warning: MediaWarning) => void} options.warn  something the user should know
   */
  constructor({ call, trackOpened, changed, streamChanged, warn }) {
    this.call = call;
    this.trackOpened = trackOpened;
    this.changed = changed;
    this.streamChanged = streamChanged;
    this.warn = warn;
    /** @type {MediaState} */
    this.state = { muted: false, cameraOff: false, screen: false };
    /** @type {MediaStreamTrack | null} */
    this.screenTrack = null;
    this.startingVideo = false;
    this.disposed = false;
  }

  get hasVideo() {
    return this.call.transceiver('video')?.currentDirection?.includes('send') ?? false;
  }

  /** @param {boolean} muted */
  setMuted(muted) {
    if (this.state.muted === muted) return;
    this.state.muted = muted;
    for (const track of this.call.localStream.getAudioTracks()) track.enabled = !muted;
    this.changed();
  }

  /** @param {boolean} off */
  async setCameraOff(off) {
    if (!this.hasVideo || this.state.screen || this.state.cameraOff === off) return;
    if (off) {
      // Off means off: the track stops (the camera light too) and nothing is sent.
      const track = this.call.sentTrack('video');
      await this.call.replaceTrack('video', null);
      track?.stop();
    } else {
      const track = await this.#open('video');
      if (!track) return;
      await this.call.replaceTrack('video', track);
    }
    this.state.cameraOff = off;
    this.streamChanged();
    this.changed();
  }

  /** The camera joins a voice call: only once the other side agreed (live-call.js asks). */
  async startVideo() {
    if (this.hasVideo || this.startingVideo) return;
    this.startingVideo = true;
    try {
      // Agreed to before our microphone was in (the callee's opens while the call connects):
      // the camera joins once it is, or it would stand in for the tracks not yet added.
      await this.call.tracksReady;
      if (this.disposed || this.call.closed || this.call.localStream.getVideoTracks().length) return;
      const track = await this.#open('video');
      if (!track) return;
      this.call.addTrack(track);
      this.state.cameraOff = false;
      this.streamChanged();
      this.changed();
    } finally {
      this.startingVideo = false;
    }
  }

  async shareScreen() {
    if (!this.hasVideo || this.state.screen) return;
    let track;
    try {
      track = await openScreen();
    } catch {
      return; // the user closed the picker
    }
    this.trackOpened(track);
    const camera = this.call.sentTrack('video');
    if (!(await this.call.replaceTrack('video', track))) {
      track.stop();
      return;
    }
    camera?.stop();
    this.screenTrack = track;
    // The browser's own "Stop sharing" ends the track: go back to the camera then too.
    track.addEventListener('ended', () => this.stopSharing());
    this.state.screen = true;
    this.state.cameraOff = false;
    this.streamChanged();
    this.changed();
  }

  async stopSharing() {
    if (!this.state.screen || this.disposed || !this.screenTrack) return;
    const screen = this.screenTrack;
    this.screenTrack = null; // a second stop (button and browser at once) does nothing
    const camera = await this.#open('video');
    await this.call.replaceTrack('video', camera);
    screen.stop();
    this.state.screen = false;
    this.streamChanged();
    this.changed();
  }

  /** A microphone or camera chosen during the call (and remembered for the next one).
   * @param {'audioinput' | 'videoinput'} kind @param {string} deviceId */
  async useDevice(kind, deviceId) {
    rememberDevice(kind, deviceId);
    const media = kind === 'audioinput' ? 'audio' : 'video';
    if (media === 'video' && (this.state.cameraOff || this.state.screen || !this.hasVideo)) return;
    const old = this.call.sentTrack(media);
    const track = await this.#open(media, deviceId);
    if (!track) return;
    if (media === 'audio') track.enabled = !this.state.muted;
    await this.call.replaceTrack(media, track);
    old?.stop();
    this.streamChanged();
  }

  /**
   * A device came or went. If the one in use is gone, fall back to the default and say so.
   * @param {Record<MediaDeviceKind, MediaDeviceInfo[]>} lists  what is plugged in now
   */
  async replaceGoneDevices(lists) {
    for (const media of /** @type {const} */ (['audio', 'video'])) {
      const track = this.#goneTrack(lists, media);
      if (!track) continue;
      const replacement = await this.#open(media, 'default');
      if (!replacement) continue;
      if (media === 'audio') replacement.enabled = !this.state.muted;
      await this.call.replaceTrack(media, replacement);
      track.stop();
      this.streamChanged();
      this.warn(media === 'audio' ? 'mic-gone' : 'camera-gone');
    }
  }

  /** Stops what only this holds; tracks the call sends are the call's to stop. */
  dispose() {
    this.disposed = true;
    this.screenTrack?.stop();
  }

  /**
   * The track we send for `media`, if its device is gone. A shared screen is no device: never gone.
   * @param {Record<MediaDeviceKind, MediaDeviceInfo[]>} lists @param {'audio' | 'video'} media
   */
  #goneTrack(lists, media) {
    const track = this.call.sentTrack(media);
    if (!track || (media === 'video' && this.state.screen)) return null;
    const kind = media === 'audio' ? 'audioinput' : 'videoinput';
    const id = track.getSettings().deviceId;
    const gone = track.readyState === 'ended' || !lists[kind].some((d) => d.deviceId === id);
    return gone ? track : null;
  }

  /** @param {'audio' | 'video'} kind @param {string} [deviceId] */
  async #open(kind, deviceId) {
    try {
      const track = await openTrack(kind, deviceId);
      this.trackOpened(track);
      if (this.disposed) {
        track.stop();
        return null;
      }
      return track;
    } catch {
      this.warn(kind === 'audio' ? 'mic-failed' : 'camera-failed');
      return null;
    }
  }
}
