// Types of Parley's browser SDK (`/sdk/v1/parley.js`), for TypeScript hosts and editors.
// Hand-kept beside the JavaScript, and checked against it: tests/types/sdk-conformance.ts fails
// `tsc` when the implementation lacks anything declared here. docs/sdk.md is the guide.
//
// A host that imports the SDK by URL maps that URL (or an import-map name) to this file:
//   "paths": { "https://calls.example.org/sdk/v1/parley.js": ["./types/parley.d.ts"] }

/** The SDK's major version: the path it is served under (`/sdk/v1/`). */
export declare const VERSION: 1;

export type Media = 'audio' | 'video';

/** A person as the server names them: `id` (a JWT's `sub`, or a guest's id) and display name. */
export interface User {
  id: string;
  name: string;
}

/** Why a call ended. `failed`: it could not be set up here (see the event's `error`);
 * `cannot-answer`: the callee's device could not take it (not a secure page, no camera or
 * microphone, or access refused); `media-failed`: no media got through for 30 s, ICE restarts
 * included. */
export type EndReason =
  | 'answered-elsewhere'
  | 'busy'
  | 'cancelled'
  | 'cannot-answer'
  | 'connection-lost'
  | 'declined'
  | 'ended-by-app'
  | 'hangup'
  | 'media-failed'
  | 'no-answer'
  | 'offline'
  | 'failed';

/** Why media does not get through: this device is offline, the TURN server refused the
 * credentials (401) or could not be reached, or no path was found. */
export type Trouble = 'offline' | 'turn-refused' | 'turn-unreachable' | 'no-path';

/** A direct call's state, in the order it goes through them (`ended` from any). */
export type CallState =
  | 'calling'
  | 'ringing'
  | 'incoming'
  | 'accepting'
  | 'accepted'
  | 'connected'
  | 'reconnecting'
  | 'ended';

/** The link to the server: `failed` after a refused token (call `setToken` and `connect`). */
export type LinkState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'closed';

/** What one side sends, as the other side is told. */
export interface MediaState {
  muted: boolean;
  cameraOff: boolean;
  screen: boolean;
}

/** Both sides' media in a call that is up. */
export interface MediaStatus {
  local: MediaState;
  remote: MediaState;
  /** The call sends (or is about to send) video. */
  sendingVideo: boolean;
  /** The other side's video reaches us (camera off or not). */
  receivingVideo: boolean;
  /** Our tracks are in the call (the callee's camera may still be opening). */
  localReady: boolean;
}

/** The connection's figures, sampled every 2 s during a call (`stats` events, `getStats()`). */
export interface Figures {
  rttMs: number | null;
  jitterMs: number | null;
  lossPercent: number | null;
  sendKbps: number | null;
  receiveKbps: number | null;
  width: number | null;
  height: number | null;
  fps: number | null;
  codec: string | null;
  candidateType: string | null;
  protocol: string | null;
  quality: 'good' | 'fair' | 'poor' | null;
}

/** The whole call in a few numbers: what is stored with the call's history at its end. */
export interface QualityReport {
  durationSeconds: number;
  rttMeanMs: number | null;
  rttMaxMs: number | null;
  lossPercent: number | null;
  sendKbps: number | null;
  receiveKbps: number | null;
  candidateType: 'host' | 'srflx' | 'prflx' | 'relay' | null;
  protocol: 'udp' | 'tcp' | null;
  /** Why media stopped reaching this side during the call, if it did: the last cause met,
   * but `no-path` never replaces a known one. */
  trouble: Trouble | null;
}

export type MediaWarning = 'mic-gone' | 'camera-gone' | 'mic-failed' | 'camera-failed';

/** Every error the SDK rejects with or reports: `code` is stable (docs/sdk.md, "Errors"). */
export declare class ParleyError extends Error {
  constructor(code: string, message: string);
  readonly code: string;
}

/** Camera or microphone could not start: `code` is `insecure`, `media-denied`,
 * `media-missing` or `media-failed`; `reason` the same as a camelCase key. */
export declare class MediaStartError extends ParleyError {
  constructor(reason: 'insecure' | 'mediaDenied' | 'mediaMissing' | 'mediaFailed', detail: string);
  readonly reason: 'insecure' | 'mediaDenied' | 'mediaMissing' | 'mediaFailed';
}

/** One direct call, from the moment it is placed or rings until it ended. */
export declare class DirectCall {
  private constructor();
  /** The server's id of the call; null while the invite is on its way. */
  readonly id: string | null;
  readonly direction: 'outgoing' | 'incoming';
  readonly peer: User;
  /** Asked for, then what was agreed on (a video call answered with voice is `audio`). */
  readonly media: Media;
  readonly state: CallState;
  /** What we send (while it rings here: the camera preview, if one is open). */
  readonly localStream: MediaStream | null;
  /** What the other side sends, once answered. */
  readonly remoteStream: MediaStream | null;
  /** The call's RTCPeerConnection, once answered (getStats, diagnostics). */
  readonly pc: RTCPeerConnection | null;
  /** Date.now() when it was answered / ended. */
  readonly answeredAt: number | null;
  readonly endedAt: number | null;
  readonly reason: EndReason | null;
  /** The user who ended it (null: nobody, e.g. no answer). */
  readonly by: string | null;
  /** Whole seconds since it was answered (until it ended); null if it never was. */
  readonly duration: number | null;
}

export interface CallEvent<C> {
  call: C;
}
export interface EndedDetail<C> extends CallEvent<C> {
  reason: EndReason;
  by: string | null;
  duration: number | null;
  error: unknown;
}

/** The events of a call that is up, the same on Phone and RoomCall. */
export interface LiveCallEventMap<C> {
  accepted: CustomEvent<CallEvent<C>>;
  connectionstate: CustomEvent<CallEvent<C> & { state: RTCPeerConnectionState }>;
  connected: CustomEvent<CallEvent<C>>;
  reconnecting: CustomEvent<CallEvent<C>>;
  remotestream: CustomEvent<CallEvent<C> & { stream: MediaStream }>;
  localstream: CustomEvent<CallEvent<C> & { stream: MediaStream }>;
  mediastate: CustomEvent<CallEvent<C> & MediaStatus>;
  videorequest: CustomEvent<CallEvent<C>>;
  videoreply: CustomEvent<CallEvent<C> & { accepted: boolean }>;
  stats: CustomEvent<CallEvent<C> & { figures: Figures }>;
  devicechange: CustomEvent<CallEvent<C> & { devices: Record<MediaDeviceKind, MediaDeviceInfo[]> }>;
  warning: CustomEvent<CallEvent<C> & { code: MediaWarning }>;
  /** The other side started (`speaking: true`) or stopped being heard; `level` 0..1. */
  speaking: CustomEvent<CallEvent<C> & { speaking: boolean; level: number }>;
  /** Why no media gets through (after 4 s without, 10 s before the first), or null once it does. */
  trouble: CustomEvent<CallEvent<C> & { trouble: Trouble | null }>;
  /** No media for 30 s, restarts included: `ended` with `media-failed` follows. */
  mediafailed: CustomEvent<CallEvent<C> & { trouble: Trouble }>;
  ended: CustomEvent<EndedDetail<C>>;
  connection: CustomEvent<{ state: LinkState; error: Error | null }>;
}

export interface PhoneEventMap extends LiveCallEventMap<DirectCall> {
  ready: CustomEvent<{ user: User; online: User[]; token: string | null }>;
  presence: CustomEvent<{ online: User[]; change: { user: User; online: boolean } | null }>;
  calling: CustomEvent<CallEvent<DirectCall>>;
  ringing: CustomEvent<CallEvent<DirectCall>>;
  incoming: CustomEvent<CallEvent<DirectCall>>;
  preview: CustomEvent<CallEvent<DirectCall> & { stream: MediaStream }>;
  resumed: CustomEvent<CallEvent<DirectCall>>;
}

export interface RoomEventMap extends LiveCallEventMap<RoomCall> {
  joined: CustomEvent<CallEvent<RoomCall> & { room: string; peers: number }>;
  peerjoined: CustomEvent<CallEvent<RoomCall> & { peer: string }>;
  peerleft: CustomEvent<CallEvent<RoomCall> & { peer: string; reason: 'disconnected' | 'left' }>;
  rejoined: CustomEvent<CallEvent<RoomCall>>;
}

/** The controls of a call that is up; outside a call they do nothing. */
declare class CallControls extends EventTarget {
  readonly mediaStatus: MediaStatus | null;
  /** Default: the other way round. */
  setMuted(muted?: boolean): void;
  setCameraOff(off?: boolean): Promise<void>;
  /** In a voice call: asks the other side to turn video on; true if the request went out. */
  requestVideo(): boolean;
  answerVideoRequest(accepted: boolean): void;
  startScreenShare(): Promise<void>;
  stopScreenShare(): Promise<void>;
  /** A microphone or camera (a deviceId from `listDevices()`), remembered for the next call. */
  switchDevice(kind: 'audioinput' | 'videoinput', deviceId: string): Promise<void>;
  getStats(): Promise<Figures | null>;
  /** The other side's sound level now, 0 (silence) to 1; null outside a call or before their
   * sound arrives. */
  remoteAudioLevel(): number | null;
  qualityReport(): QualityReport | null;
}

/** Internals for diagnostics and tests; not part of the API, may change in any release. */
export interface Diagnostics {
  sessionId: string | null;
  /** The highest `seq` taken from the server in this session (from 1 again in a new one). */
  lastSeq: number;
  connected: boolean;
  /** The peer's session the call's connection talks to. */
  peerSession: string | null;
  iceRestarts: number;
  /** Every local track opened, to check all of them ended with the call. */
  openedTracks: MediaStreamTrack[];
  timers: number;
  stats: Figures | null;
  /** The socket dies (not a goodbye), as on a network blip. */
  dropConnection(): void;
}

export interface PhoneDiagnostics extends Diagnostics {
  /** The connection made while a call rings, and what it holds back until answered. */
  prepared: {
    signalingState: RTCSignalingState;
    iceGatheringState: RTCIceGatheringState;
    unsent: string[];
  } | null;
}

export interface RoomDiagnostics extends Diagnostics {
  inRoom: boolean;
}

export interface PhoneOptions {
  /** The Parley server (its origin); default: the one this module was loaded from. */
  server?: string;
  /** A JWT from the host app (`--auth jwt`), or a guest token a `ready` event gave. */
  token?: string | null;
  /** The display name of a guest (a JWT carries its own). */
  name?: string;
  /** Be listed online and ring for calls (default true). */
  presence?: boolean;
  /** A video call ringing here opens the camera for a preview, when the browser allowed it for
   * good (no prompt); answering then sends those very tracks (default true). */
  previewWhileRinging?: boolean;
}

export declare class Phone extends CallControls {
  constructor(options?: PhoneOptions);
  readonly server: string;
  readonly token: string | null;
  readonly state: LinkState;
  /** Who we are, once signed in. */
  readonly user: User | null;
  /** Who is online for calls (not this user), by name. */
  readonly online: User[];
  /** The call going on: placed, ringing here, or answered. */
  readonly activeCall: DirectCall | null;
  connect(): Promise<User>;
  close(): void;
  setToken(token: string): void;
  /** Throws ParleyError `not-connected` or `busy`; the rest is told by events. */
  call(user: string | User, options?: { media?: Media }): DirectCall;
  accept(options?: { media?: Media }): void;
  reject(): void;
  cancel(): void;
  hangup(): void;
  readonly diagnostics: PhoneDiagnostics;
  addEventListener<K extends keyof PhoneEventMap>(
    type: K,
    listener: (this: Phone, event: PhoneEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof PhoneEventMap>(
    type: K,
    listener: (this: Phone, event: PhoneEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

export interface RoomOptions {
  /** The room's name (`/r/<room>`): 1-64 of A-Z a-z 0-9 _ -. */
  room: string;
  server?: string;
  token?: string | null;
}

export declare class RoomCall extends CallControls {
  constructor(options: RoomOptions);
  readonly room: string;
  readonly server: string;
  readonly state: 'idle' | 'joining' | 'waiting' | 'accepted' | 'connected' | 'reconnecting' | 'ended';
  /** This side's session (an ending's `by` names a session). */
  readonly sessionId: string | null;
  readonly hasPeer: boolean;
  readonly localStream: MediaStream | null;
  readonly remoteStream: MediaStream | null;
  readonly pc: RTCPeerConnection | null;
  /** Rejects with ParleyError: `room-full`, `closed`, a media code, or the server's code. */
  join(options?: { media?: Media; stream?: MediaStream }): Promise<void>;
  hangup(): void;
  close(): void;
  readonly diagnostics: RoomDiagnostics;
  addEventListener<K extends keyof RoomEventMap>(
    type: K,
    listener: (this: RoomCall, event: RoomEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof RoomEventMap>(
    type: K,
    listener: (this: RoomCall, event: RoomEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

/** Camera and microphone (`video`) or the microphone alone (`audio`), the remembered devices
 * first. Rejects with MediaStartError. */
export declare function openLocalMedia(kind: Media): Promise<MediaStream>;
/** The devices plugged in now, by kind (labels once the page may use media). */
export declare function listDevices(): Promise<Record<'audioinput' | 'videoinput' | 'audiooutput', MediaDeviceInfo[]>>;
/** Stops every track of `stream`. */
export declare function stopStream(stream: MediaStream | null): void;
/** Whether this browser can make calls at all (it has WebRTC); false in some in-app WebViews. */
export declare function browserCanCall(): boolean;
