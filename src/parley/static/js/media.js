// Local capture: opening the microphone and camera, and releasing them.

/** Why local media could not start, as a key the UI can explain. */
export class MediaStartError extends Error {
  /** @param {'insecure' | 'mediaDenied' | 'mediaMissing' | 'mediaFailed'} reason @param {string} detail */
  constructor(reason, detail) {
    super(detail);
    this.reason = reason;
  }
}

/**
 * @param {'audio' | 'video'} kind
 * @returns {Promise<MediaStream>}
 */
export async function openLocalMedia(kind) {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    throw new MediaStartError('insecure', 'getUserMedia needs a secure context');
  }
  const constraints = {
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    video: kind === 'video' ? { width: { ideal: 1280 }, height: { ideal: 720 } } : false,
  };
  try {
    return await navigator.mediaDevices.getUserMedia(constraints);
  } catch (error) {
    const name = error?.name ?? '';
    if (name === 'NotAllowedError' || name === 'SecurityError') throw new MediaStartError('mediaDenied', name);
    if (name === 'NotFoundError' || name === 'OverconstrainedError') throw new MediaStartError('mediaMissing', name);
    throw new MediaStartError('mediaFailed', name || String(error));
  }
}

/** @param {MediaStream | null} stream */
export function stopStream(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
