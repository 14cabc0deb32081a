// Web storage that a document may be refused. A cross-site frame where the browser blocks
// third-party storage throws on every touch of `localStorage` (a frame where it partitions
// storage gets its own, which works). Refused, values live in memory for the page's life, and
// nothing else changes: the page still starts.

/** @type {Map<string, string>} */
const memory = new Map();

/** The stored value, or null. @param {string} key @returns {string | null} */
export function readItem(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return memory.get(key) ?? null;
  }
}

/** @param {string} key @param {string} value */
export function writeItem(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    memory.set(key, value); // refused, or full
  }
}
