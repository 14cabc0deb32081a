// The pages' words in English and Simplified Chinese (messages-en.js, messages-zh.js). Elements
// opt in with data-i18n (text), data-i18n-label (aria-label), data-i18n-title and
// data-i18n-placeholder; a change of language fires `localechange` on the document.
import { readItem, writeItem } from '../sdk/storage.js';
import { EN } from './messages-en.js';
import { ZH_CN } from './messages-zh.js';

const STORAGE_KEY = 'parley.locale';

/** Each locale's strings by key; a key missing in one falls back to English, then to itself.
 * @type {Record<string, Record<string, string | undefined>>} */
const MESSAGES = { en: EN, 'zh-CN': ZH_CN };

export const LOCALES = Object.keys(MESSAGES);

let current = detectLocale();

function detectLocale() {
  const stored = readItem(STORAGE_KEY);
  if (stored && stored in MESSAGES) return stored;
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language];
  return preferred.some((tag) => tag?.toLowerCase().startsWith('zh')) ? 'zh-CN' : 'en';
}

/** @param {string} next */
export function setLocale(next) {
  if (!(next in MESSAGES)) return;
  current = next;
  writeItem(STORAGE_KEY, next);
  translatePage();
  document.dispatchEvent(new CustomEvent('localechange', { detail: { locale: next } }));
}

/** The language in use now. */
export function locale() {
  return current;
}

/** @param {string} key */
export function t(key) {
  return MESSAGES[current][key] ?? MESSAGES.en[key] ?? key;
}

/** A string with `{placeholders}` filled in. @param {string} key @param {Record<string, string>} values */
export function format(key, values) {
  return t(key).replace(/\{(\w+)\}/g, (/** @type {string} */ _, /** @type {string} */ name) => values[name] ?? '');
}

/**
 * Each selector names its data attribute, so the elements found are HTML elements that have it.
 * An element's other data attributes fill the string's `{placeholders}` (data-name → {name}).
 * @param {ParentNode} [root]  the document, or the part of it to translate
 */
export function translatePage(root = document) {
  document.documentElement.lang = current;
  /** @param {HTMLElement} el @param {string | undefined} key */
  const words = (el, key) => format(/** @type {string} */ (key), /** @type {Record<string, string>} */ ({ ...el.dataset }));
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (root.querySelectorAll('[data-i18n]'))) {
    el.textContent = words(el, el.dataset.i18n);
  }
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (root.querySelectorAll('[data-i18n-label]'))) {
    el.setAttribute('aria-label', words(el, el.dataset.i18nLabel));
  }
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (root.querySelectorAll('[data-i18n-title]'))) {
    el.title = words(el, el.dataset.i18nTitle);
  }
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (root.querySelectorAll('[data-i18n-placeholder]'))) {
    el.setAttribute('placeholder', words(el, el.dataset.i18nPlaceholder));
  }
}

/** Wires a <select> to the locale and keeps the page translated. @param {HTMLSelectElement} select */
export function bindLocaleSelect(select) {
  select.replaceChildren(
    ...LOCALES.map((code) => new Option(code === 'en' ? 'English' : '中文', code, false, code === current)),
  );
  select.addEventListener('change', () => setLocale(select.value));
  translatePage();
}
