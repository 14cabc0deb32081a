// The phone page's recent calls (GET /api/calls as this user): each call in plain words from this
// side (who, what happened, how long, when), its quality as good, fair or poor with the figures
// behind a "Details" toggle, missed calls marked, the missed-call badge until the list is looked
// at, and "call back".
import { format, t } from './i18n.js';
import { currentToken } from './identity.js';
import { readItem, writeItem } from '../sdk/storage.js';
import { judge } from '../sdk/stats.js';
import { $ } from './ui.js';
import { avatar } from './avatar.js';
import { icon } from './icons.js';

const MISSED_SEEN_KEY = 'parley.missedSeenAt';

/** The list as last fetched, drawn again in the new language when the language changes.
 * @type {{calls: HistoryEntry[], callBack: CallBack} | null} */
let shown = null;
document.addEventListener('localechange', () => {
  if (shown) drawHistory(shown.calls, shown.callBack);
});

/**
 * @typedef {{rtt_mean_ms: number | null, rtt_max_ms: number | null, loss_percent: number | null,
 *   send_kbps: number | null, receive_kbps: number | null, candidate_type: string | null,
 *   protocol: string | null, trouble?: string | null}} StoredQuality
 * @typedef {{
 *   id: string, direction: 'outgoing' | 'incoming', peer: string, peer_name: string,
 *   media: 'audio' | 'video', created: string, answered: string | null, ended: string | null,
 *   duration_seconds: number | null, end_reason: string | null, ended_by: string | null,
 *   missed: boolean, quality?: StoredQuality | null
 * }} HistoryEntry  one call of GET /api/calls, from this user's side
 * @typedef {(peer: {id: string, name: string}, media: 'audio' | 'video') => void} CallBack
 */

/** @param {CallBack} callBack */
export async function refreshHistory(callBack) {
  const token = currentToken();
  if (!token) return;
  /** @type {HistoryEntry[]} */
  let calls;
  try {
    const response = await fetch('/api/calls?limit=50', { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) return;
    ({ calls } = await response.json());
  } catch {
    return;
  }
  const seenAt = Number(readItem(MISSED_SEEN_KEY) ?? 0);
  const unseenMissed = calls.filter((c) => c.missed && Date.parse(c.created) > seenAt).length;
  const badge = $('missed-badge');
  badge.textContent = String(unseenMissed);
  badge.hidden = unseenMissed === 0 || $('tab-history').getAttribute('aria-selected') === 'true';
  drawHistory(calls, callBack);
}

/** @param {HistoryEntry[]} calls @param {CallBack} callBack */
function drawHistory(calls, callBack) {
  shown = { calls, callBack };
  // A row's details left open stay open when the list is drawn again (a new language).
  const open = new Set([...$('history-list').querySelectorAll('li:has(details[open])')].map((li) => /** @type {HTMLElement} */ (li).dataset.call));
  $('history-list').replaceChildren(...calls.map((entry) => historyItem(entry, callBack, open.has(entry.id))));
  $('no-history').hidden = calls.length > 0;
}

/** The history was looked at: its missed calls are seen. */
export function historySeen() {
  writeItem(MISSED_SEEN_KEY, String(Date.now()));
  $('missed-badge').hidden = true;
}

/** @param {HistoryEntry} entry @param {CallBack} callBack @param {boolean} detailsOpen */
function historyItem(entry, callBack, detailsOpen) {
  const item = document.createElement('li');
  item.dataset.call = entry.id;
  item.classList.toggle('missed', entry.missed);
  const name = entry.peer_name || '—';
  const text = document.createElement('span');
  text.className = 'history-text';
  text.append(line('who', name), line('outcome', outcome(entry)), line('when', when(entry)));
  const again = document.createElement('button');
  again.type = 'button';
  again.className = 'icon-button accept call-back';
  again.innerHTML = icon(entry.media === 'video' ? 'camera' : 'phone');
  again.setAttribute('aria-label', format('callBackTo', { name }));
  again.title = again.getAttribute('aria-label') ?? '';
  again.addEventListener('click', () => callBack({ id: entry.peer, name: entry.peer_name }, entry.media));
  item.append(avatar({ id: entry.peer, name: entry.peer_name }), text, again);
  // (A call too short to measure has a summary with no figure in it: nothing to show.)
  const quality = entry.quality;
  if (quality && (quality.rtt_mean_ms != null || quality.loss_percent != null || quality.candidate_type)) {
    item.append(qualityDetails(quality, detailsOpen));
  }
  // Why sound and picture stopped during the call (it may have come back), in plain words.
  if (quality?.trouble) item.append(line('history-trouble', t(`history.trouble.${quality.trouble}`)));
  return item;
}

/** @param {string} className @param {string} words */
function line(className, words) {
  const span = document.createElement('span');
  span.className = className;
  span.textContent = words;
  return span;
}

/** What happened, from this side: "Outgoing · 3:12", "You declined", "Missed call". @param {HistoryEntry} entry */
function outcome(entry) {
  const name = entry.peer_name || '—';
  const outgoing = entry.direction === 'outgoing';
  if (entry.missed) return outgoing ? t('history.noAnswer') : t('history.missed');
  if (entry.duration_seconds != null) {
    const answered = `${t(outgoing ? 'history.outgoing' : 'history.incoming')} · ${formatSeconds(entry.duration_seconds)}`;
    return entry.end_reason === 'media-failed' ? `${answered} · ${t('history.mediaFailed')}` : answered;
  }
  if (entry.end_reason == null) return t('history.ongoing');
  const byMe = entry.ended_by !== null && entry.ended_by !== entry.peer;
  /** @type {Record<string, string>} */
  const keys = {
    declined: byMe ? 'history.declinedByMe' : 'history.declinedByPeer',
    busy: 'history.busy',
    'no-answer': outgoing ? 'history.noAnswer' : 'history.missed',
    cancelled: outgoing ? 'history.cancelledByMe' : 'history.missed',
    offline: 'history.offline',
    'connection-lost': 'history.connectionLost',
    'cannot-answer': outgoing ? 'history.cannotAnswerPeer' : 'history.cannotAnswerMe',
    'ended-by-app': 'history.endedByApp',
  };
  return format(keys[entry.end_reason] ?? 'history.failed', { name });
}

/** "Video · 14:03, 12 May". @param {HistoryEntry} entry */
function when(entry) {
  const at = new Date(entry.created).toLocaleString(document.documentElement.lang, { dateStyle: 'medium', timeStyle: 'short' });
  return `${t(entry.media === 'video' ? 'mediaVideo' : 'mediaAudio')} · ${at}`;
}

/** "Quality: good", and the figures behind a toggle. @param {StoredQuality} quality @param {boolean} open */
function qualityDetails(quality, open) {
  const details = document.createElement('details');
  details.className = 'history-quality';
  details.open = open;
  const word = judge(quality.rtt_mean_ms, quality.loss_percent, null);
  const summary = document.createElement('summary');
  summary.textContent = word
    ? `${format('history.qualityLine', { quality: t(`quality.word.${word}`) })} · ${t('history.details')}`
    : t('history.details');
  const figures = document.createElement('p');
  figures.className = 'figures';
  const kind = quality.candidate_type ?? 'unknown';
  const path = [quality.candidate_type, quality.protocol].filter(Boolean).join('/');
  figures.textContent = format('history.figures', {
    rtt: quality.rtt_mean_ms == null ? '—' : String(Math.round(quality.rtt_mean_ms)),
    loss: quality.loss_percent == null ? '—' : quality.loss_percent.toFixed(1),
    path: `${t(`path.${kind}`)}${path ? ` (${path})` : ''}`,
  });
  details.append(summary, figures);
  return details;
}

/** @param {number} seconds */
function formatSeconds(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
