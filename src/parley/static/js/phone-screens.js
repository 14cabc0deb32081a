// The phone page's screens and lists: which screen shows (and <body data-state>, which styles
// and tests read), where focus goes as screens change, the tab's title and icon while a call
// rings or goes on, who is online with their call buttons, and the plain words of each ending,
// from this side's point of view.
import { format, t } from './i18n.js';
import { $ } from './ui.js';
import { avatar, paintAvatar, sharedNames, writeName } from './avatar.js';
import { canFocus, closeDialog, openDialog } from './dialogs.js';
import { faviconUrl, icon } from './icons.js';

/**
 * @typedef {import('../sdk/parley.js').User} User
 * @typedef {import('../sdk/parley.js').EndReason} EndReason
 * @typedef {'name' | 'unsupported' | 'insecure' | 'phone' | 'outgoing' | 'incoming' | 'call' | 'ended'} Screen
 */

const SCREENS = /** @type {const} */ (['name', 'unsupported', 'insecure', 'phone', 'outgoing', 'incoming', 'call', 'ended']);
/** The screens of a call: the header steps aside, and focus is led. */
const CALL_SCREENS = ['outgoing', 'incoming', 'call', 'ended'];

/** @type {Screen} */
let shown = 'name';
/** Where focus was on the phone screen before a call took the page. @type {Element | null} */
let phoneFocus = null;
/** The tab's title now: an i18n key and the name in it. */
let title = { key: 'title.default', name: '' };

/** @param {Screen} screen @param {string} [bodyState] */
export function show(screen, bodyState = screen) {
  const previous = shown;
  if (previous === 'phone' && screen !== 'phone') phoneFocus = document.activeElement;
  for (const name of SCREENS) $(`screen-${name}`).hidden = name !== screen;
  document.body.dataset.state = bodyState;
  document.body.dataset.screen = screen;
  shown = screen;
  if (previous === 'incoming' && screen !== 'incoming') closeDialog($('screen-incoming'));
  if (screen !== 'incoming' && screen !== 'outgoing' && screen !== 'call') setTitle('title.default', '');
  leadFocus(screen, previous);
}

/** The screen showing now. */
export function showing() {
  return shown;
}

/** @param {Screen} screen @param {Screen} previous */
function leadFocus(screen, previous) {
  if (screen === previous) return;
  if (screen === 'outgoing') $('cancel-button').focus();
  else if (screen === 'ended') $('ended-ok').focus();
  else if (screen === 'phone' && CALL_SCREENS.includes(previous)) {
    const back = canFocus(phoneFocus) ? /** @type {HTMLElement} */ (phoneFocus) : $('tab-people');
    back.focus();
  }
}

/** The tab's title (and icon: a ringing phone while a call rings here). @param {string} key @param {string} name */
function setTitle(key, name) {
  title = { key, name };
  document.title = format(key, { name });
  /** @type {HTMLLinkElement} */ ($('favicon')).href = faviconUrl(key === 'title.incoming');
}

/** The words of the last ending, made again in a new language. */
let endedWords = () => '';

document.addEventListener('localechange', () => {
  setTitle(title.key, title.name);
  $('ended-text').textContent = endedWords();
});

/** How a person is called on the page: their name, or a dash for none. @param {User} person */
const nameOf = (person) => person.name.trim() || '—';

/**
 * @param {User[]} people  online, by name
 * @param {User | null} me
 * @param {(user: User, media: 'audio' | 'video') => void} call
 */
export function renderOnline(people, me, call) {
  const shared = sharedNames(me ? [...people, me] : people);
  $('online-list').replaceChildren(
    ...people.map((user) => {
      const item = document.createElement('li');
      item.dataset.user = user.id;
      const who = document.createElement('span');
      who.className = 'who';
      writeName(who, user, shared, '—');
      item.append(avatar(user), who, callButton(user, 'video', call), callButton(user, 'audio', call));
      return item;
    }),
  );
  $('nobody-online').hidden = people.length > 0;
}

/**
 * @param {User} user @param {'audio' | 'video'} media
 * @param {(user: User, media: 'audio' | 'video') => void} call
 */
function callButton(user, media, call) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = media === 'video' ? 'icon-button accept call-video' : 'icon-button accept call-voice';
  button.innerHTML = icon(media === 'video' ? 'camera' : 'phone');
  button.dataset.i18nLabel = media === 'video' ? 'videoCallTo' : 'voiceCallTo';
  button.dataset.i18nTitle = button.dataset.i18nLabel;
  button.dataset.name = nameOf(user);
  button.setAttribute('aria-label', format(button.dataset.i18nLabel, { name: nameOf(user) }));
  button.title = button.getAttribute('aria-label') ?? '';
  button.addEventListener('click', () => call(user, media));
  return button;
}

/** @param {User} callee @param {string} key  i18n key of the label */
export function showOutgoing(callee, key) {
  paintAvatar($('outgoing-avatar'), callee);
  $('outgoing-name').textContent = nameOf(callee);
  ringLabel(key);
  setTitle('title.calling', nameOf(callee));
  show('outgoing');
}

/** @param {string} key */
export function ringLabel(key) {
  $('outgoing-label').dataset.i18n = key;
  $('outgoing-label').textContent = t(key);
}

/**
 * A call rings here: a full-screen alert dialog that takes focus (to answer), and gives it back.
 * @param {User} caller @param {'audio' | 'video'} media @param {User[]} others  online, and me
 */
export function showIncoming(caller, media, others) {
  paintAvatar($('incoming-avatar'), caller);
  writeName($('incoming-name'), caller, sharedNames([caller, ...others.filter((u) => u.id !== caller.id)]), '—');
  const label = media === 'video' ? 'incomingVideo' : 'incomingVoice';
  $('incoming-label').dataset.i18n = label;
  $('incoming-label').textContent = t(label);
  $('accept-video').hidden = media !== 'video';
  // A voice call is answered as it comes ("Answer"); a video call may be taken with voice only.
  const voice = /** @type {HTMLElement} */ ($('accept-voice').querySelector('.label'));
  voice.dataset.i18n = media === 'video' ? 'acceptVoice' : 'acceptVoiceCall';
  voice.textContent = t(voice.dataset.i18n);
  show('incoming');
  setTitle('title.incoming', nameOf(caller));
  const incoming = $('screen-incoming');
  incoming.hidden = true; // opened as a dialog: focus moves in, and is given back after
  openDialog(incoming, { first: $(media === 'video' ? 'accept-video' : 'accept-voice') });
  return label;
}

/** The call is answered: the tab says with whom. @param {User} peer */
export function showCallTitle(peer) {
  setTitle('title.inCall', nameOf(peer));
}

/** The camera preview of a video call ringing here (your own: labelled so). @param {MediaStream | null} stream */
export function showPreview(stream) {
  const video = /** @type {HTMLVideoElement} */ ($('incoming-preview'));
  video.srcObject = stream;
  $('incoming-preview-box').hidden = stream === null;
}

/**
 * The call ended: why, in plain words from this side ("You declined", "Bo declined").
 * @param {{reason: EndReason, byMe: boolean, peer: User, role: 'caller' | 'callee', detail?: () => string}} ending
 *   `detail`: what went wrong, in the language of the moment
 */
export function showEnded({ reason, byMe, peer, role, detail = () => '' }) {
  paintAvatar($('ended-avatar'), peer);
  $('ended').dataset.reason = reason;
  const key = endingKey(reason, byMe, role);
  endedWords = () => {
    const more = detail();
    return format(key, { name: nameOf(peer) }) + (more ? ` (${more})` : '');
  };
  $('ended-text').textContent = endedWords();
  show('ended');
}

/** @param {EndReason} reason @param {boolean} byMe @param {'caller' | 'callee'} role */
function endingKey(reason, byMe, role) {
  const caller = role === 'caller';
  /** @type {Record<string, string>} */
  const keys = {
    declined: byMe ? 'end.declined.callee' : 'end.declined.caller',
    busy: 'end.busy',
    'no-answer': caller ? 'end.noAnswer.caller' : 'end.noAnswer.callee',
    cancelled: byMe || caller ? 'end.cancelled.caller' : 'end.cancelled.callee',
    offline: 'end.offline',
    hangup: byMe ? 'end.hangup.me' : 'end.hangup.peer',
    'connection-lost': 'end.connectionLost',
    'answered-elsewhere': 'end.answeredElsewhere',
    'ended-by-app': 'end.endedByApp',
    'cannot-answer': byMe ? 'end.failed.callee' : 'end.cannotAnswer',
    'media-failed': 'end.mediaFailed',
    failed: caller ? 'end.failed' : 'end.failed.callee',
  };
  return keys[reason] ?? 'end.failed';
}

/** The host app's token was refused: only the app can issue a new one. */
export function showAuthFailed() {
  $('ended').dataset.reason = 'auth-failed';
  paintAvatar($('ended-avatar'), null);
  endedWords = () => t('authFailed');
  $('ended-text').textContent = endedWords();
  show('ended', 'auth-failed');
}
