// The SDK's hand-kept declarations (src/parley/static/sdk/parley.d.ts) hold of its JavaScript:
// `tsc` (make check) fails here when the implementation lacks anything declared, or declares it
// with a type the implementation does not keep. Nothing runs this file.
//
// `parley.js` itself resolves to the declarations, so the implementation is taken from the
// modules it re-exports.
import type * as Api from '../../src/parley/static/sdk/parley.js';
import { Phone } from '../../src/parley/static/sdk/phone.js';
import { RoomCall } from '../../src/parley/static/sdk/room.js';
import { DirectCall } from '../../src/parley/static/sdk/direct-call.js';
import { ParleyError } from '../../src/parley/static/sdk/errors.js';
import { MediaStartError, browserCanCall, listDevices, openLocalMedia, stopStream } from '../../src/parley/static/sdk/capture.js';

export const phone: typeof Api.Phone = Phone;
export const roomCall: typeof Api.RoomCall = RoomCall;
export const parleyError: typeof Api.ParleyError = ParleyError;
export const mediaStartError: typeof Api.MediaStartError = MediaStartError;
export const functions: [
  typeof Api.openLocalMedia,
  typeof Api.listDevices,
  typeof Api.stopStream,
  typeof Api.browserCanCall,
] = [openLocalMedia, listDevices, stopStream, browserCanCall];

/** A DirectCall as the SDK makes it is one as declared. */
export function directCall(call: DirectCall): Api.DirectCall {
  return call;
}
