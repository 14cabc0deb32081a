// Local capture: opening the microphone and camera, and releasing them; the devices chosen
// last time (remembered in this origin's storage, or in memory where it is refused).
import { ParleyError } from './errors.js';
import { readItem, writeItem } from './storage.js';

const MEDIA_ERROR_CODES = {
  insecure: 'insecure',
  mediaDenied: 'media-denied',
  mediaMissing: 'media-missing',
  mediaFailed: 'media-failed',
};

/** Why local media could not start: `code` for programs, `reason` as a key a UI can explain. */
export class MediaStartError extends ParleyError {
  /** @param {'insecure' | 'mediaDenied' | 'mediaMissing' | 'mediaFailed'} reason @param {string} detail */
  constructor(reason, detail) {
    super(MEDIA_ERROR_CODES[reason], detail);
    this.name = 'MediaStartError';
    this.reason = reason;
  }
}

const DEVICE_PREFS_KEY = 'parley.devices';

/**
 * The devices the user chose last time, by kind (remembered across visits).
 * @returns {{audioinput?: string, videoinput?: string, audiooutput?: string}}
 */
export function devicePreferences() {
  try {
    return JSON.parse(readItem(DEVICE_PREFS_KEY) ?? '{}') ?? {};
  } catch {
    return {};
  }
}

/** @param {'audioinput' | 'videoinput' | 'audiooutput'} kind @param {string} deviceId */
export function rememberDevice(kind, deviceId) {
  writeItem(DEVICE_PREFS_KEY, JSON.stringify({ ...devicePreferences(), [kind]: deviceId }));
}

/** @param {string | undefined} deviceId */
function exactly(deviceId) {
  // `exact`: an `ideal` device id loses to the ideal resolution when devices differ in formats.
  return deviceId ? { deviceId: { exact: deviceId } } : {};
}

const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 } };

/**
 * Whether this browser can make calls at all: it has WebRTC (`RTCPeerConnection`). Some in-app
 * WebViews and Debian's WebKitGTK have none; a page says so rather than wait for ever. (A page
 * that is not a secure context has WebRTC but no camera: `openLocalMedia` says that one.)
 * @returns {boolean}
 */
export function browserCanCall() {
  return typeof window.RTCPeerConnection === 'function';
}

/**
 * The remembered devices when they are still there; the defaults for any that are gone.
 * @param {'audio' | 'video'} kind
 * @returns {Promise<MediaStream>}
 */
export async function openLocalMedia(kind) {
  const prefs = devicePreferences();
  const wanted = (/** @type {boolean} */ remembered) => ({
    audio: { ...AUDIO, ...(remembered ? exactly(prefs.audioinput) : {}) },
    video: kind === 'video' ? { ...VIDEO, ...(remembered ? exactly(prefs.videoinput) : {}) } : false,
  });
  return withFallback(() => capture(wanted(true)), () => capture(wanted(false)));
}

/**
 * One new microphone or camera track (a switch, camera back on, video added to a voice call).
 * @param {'audio' | 'video'} kind
 * @param {string} [deviceId]  default: the remembered choice; 'default': the system's default
 */
export async function openTrack(kind, deviceId) {
  const prefs = devicePreferences();
  const id = deviceId === 'default' ? undefined : (deviceId ?? (kind === 'audio' ? prefs.audioinput : prefs.videoinput));
  const open = (/** @type {string | undefined} */ device) =>
    capture(kind === 'audio' ? { audio: { ...AUDIO, ...exactly(device) } } : { video: { ...VIDEO, ...exactly(device) } });
  // A device picked just now must be that one; a remembered one may be gone since.
  const stream = deviceId && deviceId !== 'default' ? await open(id) : await withFallback(() => open(id), () => open(undefined));
  return stream.getTracks()[0];
}

/**
 * @param {() => Promise<MediaStream>} first @param {() => Promise<MediaStream>} otherwise
 */
async function withFallback(first, otherwise) {
  try {
    return await first();
  } catch (error) {
    if (error instanceof MediaStartError && error.reason === 'mediaMissing') return otherwise();
    throw error;
  }
}

/** The screen (or a window or tab), as one video track. */
export async function openScreen() {
  const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
  return stream.getVideoTracks()[0];
}

/** @returns {Promise<Record<'audioinput' | 'videoinput' | 'audiooutput', MediaDeviceInfo[]>>} */
export async function listDevices() {
  /** @type {Record<'audioinput' | 'videoinput' | 'audiooutput', MediaDeviceInfo[]>} */
  const lists = { audioinput: [], videoinput: [], audiooutput: [] };
  for (const device of await navigator.mediaDevices.enumerateDevices()) {
    lists[device.kind]?.push(device);
  }
  return lists;
}

/** Speaker choice works only where the browser has setSinkId (not in Safari or Firefox yet). */
export const canChooseSpeaker = 'setSinkId' in HTMLMediaElement.prototype;

/** @param {MediaStreamConstraints} constraints */
async function capture(constraints) {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    throw new MediaStartError('insecure', 'getUserMedia needs a secure context');
  }
  try {
    return await navigator.mediaDevices.getUserMedia(constraints);
  } catch (error) {
    // getUserMedia rejects with a DOMException; anything else has no usable name.
    const name = /** @type {{name?: string} | null | undefined} */ (error)?.name ?? '';
    if (name === 'NotAllowedError' || name === 'SecurityError') throw new MediaStartError('mediaDenied', name);
    if (name === 'NotFoundError' || name === 'OverconstrainedError') throw new MediaStartError('mediaMissing', name);
    throw new MediaStartError('mediaFailed', name || String(error));
  }
}

/** @param {MediaStream | null} stream */
export function stopStream(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
