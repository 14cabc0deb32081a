// The chat page's calls, through Parley's SDK: the app's own contact list, buttons and layout.
// `parley` is the SDK on the Parley server (the page's import map names its URL); TypeScript
// and editors take its types from parley.d.ts (tsconfig.json maps the name to it).
import { Phone } from 'parley';
import { word } from './words.js';

/**
 * @typedef {import('parley').DirectCall} DirectCall
 * @typedef {import('parley').PhoneEventMap} PhoneEventMap
 * @typedef {import('parley').User} User
 */

// Parley's tokens are short-lived (the app mints them for 10 minutes): a fresh one now and then.
const TOKEN_REFRESH_MS = 5 * 60 * 1000;

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** A Parley token for the user signed in to this app, minted by its backend. */
async function freshToken() {
  const response = await fetch('/token');
  if (!response.ok) throw new Error(`token: HTTP ${response.status}`);
  return /** @type {{token: string}} */ (await response.json()).token;
}

const phone = new Phone({ token: await freshToken() });
/** @type {Window & {chat?: object}} */ (window).chat = { phone }; // for the console
window.setInterval(() => freshToken().then((token) => phone.setToken(token), () => {}), TOKEN_REFRESH_MS);

/** @param {string} key @param {Record<string, string>} [values] */
function status(key, values) {
  $('status').textContent = word(key, values);
}

/** Our contacts, marked online when Parley lists them. @param {User[]} online */
function showPresence(online) {
  for (const item of document.querySelectorAll('#contacts li')) {
    const contact = /** @type {HTMLElement} */ (item);
    const here = online.some((user) => user.id === contact.dataset.user);
    /** @type {HTMLElement} */ (contact.querySelector('.presence')).dataset.online = String(here);
    /** @type {HTMLElement} */ (contact.querySelector('.presence')).textContent = word(here ? 'online' : 'offline');
    for (const button of contact.querySelectorAll('button')) /** @type {HTMLButtonElement} */ (button).disabled = !here;
  }
}

function bindButtons() {
  for (const item of document.querySelectorAll('#contacts li')) {
    const contact = /** @type {HTMLElement} */ (item);
    const user = /** @type {string} */ (contact.dataset.user);
    const video = /** @type {HTMLElement} */ (contact.querySelector('.video'));
    const voice = /** @type {HTMLElement} */ (contact.querySelector('.voice'));
    video.textContent = word('videoCall');
    voice.textContent = word('voiceCall');
    video.addEventListener('click', () => callContact(user, 'video'));
    voice.addEventListener('click', () => callContact(user, 'audio'));
  }
  $('accept').addEventListener('click', () => phone.accept());
  $('decline').addEventListener('click', () => phone.reject());
  $('hangup').addEventListener('click', () => phone.hangup());
  $('mute').addEventListener('click', () => phone.setMuted());
  window.addEventListener('pagehide', () => phone.close());
}

/** @param {string} user @param {'audio' | 'video'} media */
function callContact(user, media) {
  if (!phone.activeCall) phone.call(user, { media });
}

/** @param {DirectCall} call */
function name(call) {
  return call.peer.name || call.peer.id;
}

/**
 * @template {keyof PhoneEventMap} K
 * @param {K} type @param {(detail: PhoneEventMap[K]['detail']) => void} handler
 */
function on(type, handler) {
  phone.addEventListener(type, (event) => handler(/** @type {PhoneEventMap[K]} */ (event).detail));
}

on('ready', ({ online }) => {
  showPresence(online);
  status('ready');
});
on('presence', ({ online }) => showPresence(online));
on('connection', ({ state }) => {
  if (state === 'reconnecting') status('unreachable');
  if (state === 'failed') status('refused');
});
on('calling', ({ call }) => status('calling', { name: name(call) }));
on('ringing', ({ call }) => status('ringing', { name: name(call) }));
on('incoming', ({ call }) => {
  $('incoming-text').textContent = word('incoming', { name: name(call) });
  $('incoming').hidden = false;
});
on('accepted', ({ call }) => {
  $('incoming').hidden = true;
  $('call').hidden = false;
  status('inCall', { name: name(call) });
});
on('localstream', ({ stream }) => {
  /** @type {HTMLVideoElement} */ ($('local')).srcObject = stream;
});
on('remotestream', ({ stream }) => {
  const remote = /** @type {HTMLVideoElement} */ ($('remote'));
  if (remote.srcObject !== stream) remote.srcObject = stream;
});
on('mediastate', ({ local }) => {
  $('mute').textContent = word(local.muted ? 'unmute' : 'mute');
});
on('connected', ({ call }) => status('inCall', { name: name(call) }));
on('reconnecting', () => status('reconnecting'));
on('ended', ({ call, reason }) => {
  $('incoming').hidden = true;
  $('call').hidden = true;
  /** @type {HTMLVideoElement} */ ($('remote')).srcObject = null;
  /** @type {HTMLVideoElement} */ ($('local')).srcObject = null;
  status('ended', { name: name(call), reason: word(`reason.${reason}`) });
});

bindButtons();
status('connecting');
phone.connect().catch(() => status('refused'));
