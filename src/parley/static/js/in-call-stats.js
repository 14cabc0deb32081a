// How a call's connection figures show on the in-call overlay: the good / fair / poor mark and,
// while it is open, the stats panel. The figures themselves come from the SDK (stats.js).
import { t } from './i18n.js';

/**
 * @param {HTMLElement} overlay  the in-call overlay (in-call-view.js)
 * @param {import('../sdk/stats.js').Figures} figures
 */
export function showFigures(overlay, figures) {
  const mark = /** @type {HTMLElement} */ (overlay.querySelector('.quality-mark'));
  mark.hidden = figures.quality === null;
  if (figures.quality) {
    mark.dataset.quality = figures.quality;
    mark.dataset.i18n = `quality.${figures.quality}`; // a language switch says it again
    mark.textContent = t(mark.dataset.i18n);
  }
  const panel = /** @type {HTMLElement} */ (overlay.querySelector('.stats-panel'));
  if (panel.hidden) return; // nobody is looking: skip rebuilding the rows
  panel.replaceChildren(
    ...statRows(figures).flatMap(([key, value]) => {
      const term = document.createElement('dt');
      term.dataset.i18n = key;
      term.textContent = t(key);
      const data = document.createElement('dd');
      data.textContent = value;
      // Tests read a figure by this name, whatever the language.
      data.dataset.stat = key.split('.')[1];
      return [term, data];
    }),
  );
}

/** @param {import('../sdk/stats.js').Figures} figures @returns {[string, string][]} i18n key and value */
function statRows(figures) {
  const fixed = (/** @type {number | null} */ v, /** @type {number} */ digits = 0) => (v === null ? '—' : v.toFixed(digits));
  return [
    ['stats.rtt', `${fixed(figures.rttMs)} ms`],
    ['stats.jitter', `${fixed(figures.jitterMs, 1)} ms`],
    ['stats.loss', `${fixed(figures.lossPercent, 1)} %`],
    ['stats.send', `${fixed(figures.sendKbps)} kbit/s`],
    ['stats.receive', `${fixed(figures.receiveKbps)} kbit/s`],
    ['stats.video', figures.width ? `${figures.width}×${figures.height} @ ${fixed(figures.fps)} fps` : '—'],
    ['stats.codec', figures.codec ?? '—'],
    ['stats.path', figures.candidateType ? `${figures.candidateType} / ${figures.protocol ?? '?'}` : '—'],
  ];
}
