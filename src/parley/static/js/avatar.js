// Who someone is at a glance, the same everywhere (the list, the cards, the call, history): their
// initials on a colour taken from their user id, and, when two people online share a display
// name, a short tag from the user id beside it. Nothing here is secret: the id is the server's.
import { icon } from './icons.js';

/** How many avatar colours the stylesheet has (`.hue-0` … `.hue-7`, each ≥ 4.5:1 with white). */
const HUES = 8;

/** A stable 32-bit hash of a string (FNV-1a). @param {string} text */
function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Up to two initials of a name (the first character of a CJK name). @param {string} name */
export function initials(name) {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '';
  const first = [...words[0]];
  if (/\p{Script=Han}/u.test(first[0])) return first[0];
  const second = words.length > 1 ? [...words[words.length - 1]][0] : '';
  return (first[0] + second).toUpperCase();
}

/** A short tag that tells two people of the same name apart (4 letters or digits). @param {string} id */
export function tagOf(id) {
  return `#${hash(`tag:${id}`).toString(36).padStart(4, '0').slice(-4)}`;
}

/**
 * The display names shared by more than one of `people` (lower case, trimmed).
 * @param {{id: string, name: string}[]} people
 */
export function sharedNames(people) {
  /** @type {Map<string, Set<string>>} */
  const ids = new Map();
  for (const { id, name } of people) {
    const key = name.trim().toLowerCase();
    ids.set(key, (ids.get(key) ?? new Set()).add(id));
  }
  return new Set([...ids].filter(([, who]) => who.size > 1).map(([key]) => key));
}

/**
 * An avatar: initials on the person's colour; a silhouette for someone with no name (the other
 * person in a room). Decorative: the name always stands beside it.
 * @param {{id: string, name: string} | null} person
 * @param {'small' | 'medium' | 'large'} [size]
 */
export function avatar(person, size = 'medium') {
  const element = document.createElement('span');
  paintAvatar(element, person);
  element.classList.add(size);
  element.setAttribute('aria-hidden', 'true');
  return element;
}

/**
 * Makes `element` the avatar of `person` (in place: an element the page keeps).
 * @param {HTMLElement} element @param {{id: string, name: string} | null} person
 */
export function paintAvatar(element, person) {
  const size = ['small', 'medium', 'large'].find((name) => element.classList.contains(name));
  element.className = `avatar hue-${person?.id ? hash(person.id) % HUES : 'none'}`;
  if (size) element.classList.add(size);
  const letters = person ? initials(person.name) : '';
  if (letters) element.textContent = letters;
  else element.innerHTML = icon('person');
}

/**
 * A name with its tag when another person online has the same one.
 * @param {HTMLElement} element @param {{id: string, name: string}} person
 * @param {Set<string>} shared  from sharedNames
 * @param {string} fallback  the words for someone without a name
 */
export function writeName(element, person, shared, fallback) {
  const name = person.name.trim() || fallback;
  element.textContent = name;
  if (!shared.has(person.name.trim().toLowerCase())) return;
  const tag = document.createElement('span');
  tag.className = 'tag';
  tag.textContent = tagOf(person.id);
  element.append(' ', tag);
}
