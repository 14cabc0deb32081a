// The other way in: Parley's own phone page in a frame, signed in through the #token= fragment,
// driven with postMessage (commands out, events in). Messages are checked both ways: commands
// go only to Parley's origin, and events count only from Parley's frame at Parley's origin.
import { word } from './words.js';

const frame = /** @type {HTMLIFrameElement} */ (document.getElementById('parley'));
const parley = new URL(/** @type {string} */ (frame.dataset.parley)).origin;
const events = /** @type {HTMLElement} */ (document.getElementById('events'));

/** @param {Record<string, unknown>} command */
function send(command) {
  frame.contentWindow?.postMessage({ type: 'parley', ...command }, parley);
}

window.addEventListener('message', (event) => {
  if (event.origin !== parley || event.source !== frame.contentWindow) return;
  const data = event.data;
  if (!data || data.type !== 'parley' || typeof data.event !== 'string') return;
  const item = document.createElement('li');
  item.dataset.event = data.event;
  if (typeof data.reason === 'string') item.dataset.reason = data.reason;
  if (typeof data.duration === 'number') item.dataset.duration = String(data.duration);
  const who = data.peer?.name ?? data.user?.name ?? '';
  const reason = typeof data.reason === 'string' ? word(`reason.${data.reason}`) : '';
  item.textContent = [data.event, who, reason].filter(Boolean).join(' · ');
  events.append(item);
});

// Browsers that do not tell a frame its parent's origin (Firefox) learn it from a first command.
frame.addEventListener('load', () => send({ command: 'hello' }));

const call = /** @type {HTMLElement} */ (document.getElementById('call-first'));
call.addEventListener('click', () => send({ command: 'call', user: call.dataset.user, media: 'video' }));
document.getElementById('mute')?.addEventListener('click', () => send({ command: 'mute' }));
document.getElementById('hangup')?.addEventListener('click', () => send({ command: 'hangup' }));
