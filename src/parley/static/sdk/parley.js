// Parley's browser SDK: direct calls (Phone) and room calls (RoomCall) with no UI, for a host
// page to build its own on. Import it from the Parley server (any page whose origin is one of
// its --allowed-origin):
//
//   import { Phone } from 'https://calls.example.org/sdk/v1/parley.js';
//
// docs/sdk.md is the guide; parley.d.ts beside this file gives TypeScript hosts the types.
export { Phone } from './phone.js';
export { RoomCall } from './room.js';
export { DirectCall } from './direct-call.js';
export { ParleyError } from './errors.js';
export { MediaStartError, browserCanCall, listDevices, openLocalMedia, stopStream } from './capture.js';

/** The SDK's major version: the path it is served under (`/sdk/v1/`). */
export const VERSION = 1;
