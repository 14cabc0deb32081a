// A tab list as screen readers and keyboards expect it: one tab in the Tab order (the selected
// one), arrow keys, Home and End move between tabs, and each tab shows its panel.
import { $ } from './ui.js';

/**
 * Binds the tabs `tab-<name>` to their panels `panel-<name>`.
 * @template {string} N
 * @param {N[]} names @param {(name: N) => void} [selected]  called when a tab is chosen
 */
export function bindTabs(names, selected) {
  const select = (/** @type {N} */ name, /** @type {boolean} */ focus) => {
    for (const other of names) {
      const tab = $(`tab-${other}`);
      tab.setAttribute('aria-selected', String(other === name));
      tab.tabIndex = other === name ? 0 : -1;
      $(`panel-${other}`).hidden = other !== name;
    }
    if (focus) $(`tab-${name}`).focus();
    selected?.(name);
  };
  names.forEach((name, index) => {
    const tab = $(`tab-${name}`);
    tab.addEventListener('click', () => select(name, false));
    tab.addEventListener('keydown', (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1, Home: -index, End: names.length - 1 - index }[event.key];
      if (step === undefined) return;
      event.preventDefault();
      select(names[(index + step + names.length) % names.length], true);
    });
  });
}
