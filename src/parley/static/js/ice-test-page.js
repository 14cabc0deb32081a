// /ice-test: gathers ICE candidates and explains the result, like the Trickle ICE sample with
// answers. It never sends media: one data channel is enough to make the browser gather.
import { bindLocaleSelect, format, t } from './i18n.js';
import { Signaling, socketUrl } from '../sdk/signaling.js';
import { currentToken } from './identity.js';
import { $ } from './ui.js';

const GATHER_LIMIT_MS = 15_000;

/**
 * `relayProtocol` (how a relay candidate reaches its TURN server) is newer than the DOM typings;
 * undefined where the browser lacks it.
 * @typedef {RTCIceCandidate & {readonly relayProtocol?: 'udp' | 'tcp' | 'tls' | null}} Candidate
 */

/** @returns {Promise<RTCConfiguration>} */
async function serverConfiguration() {
  const signaling = new Signaling(socketUrl(location.origin), { token: currentToken() });
  await signaling.connect();
  // TURN credentials are for calls and rooms: the test takes them in a room of its own, with
  // a name nobody else knows, and leaves it at once.
  const room = `ice-test-${crypto.randomUUID()}`;
  await signaling.request({ type: 'join', room });
  const configuration = await signaling.iceConfiguration();
  signaling.send({ type: 'leave' });
  signaling.close();
  // The test wants every kind of candidate, whatever the calls' policy.
  return { iceServers: configuration.iceServers, iceTransportPolicy: 'all' };
}

/** @returns {RTCConfiguration} */
function customConfiguration() {
  const url = /** @type {HTMLInputElement} */ ($('ice-url')).value.trim();
  const username = /** @type {HTMLInputElement} */ ($('ice-username')).value.trim();
  const credential = /** @type {HTMLInputElement} */ ($('ice-credential')).value;
  if (!url) return { iceServers: [] };
  return { iceServers: [username ? { urls: url, username, credential } : { urls: url }] };
}

/**
 * @param {RTCConfiguration} configuration
 * @returns {Promise<{candidates: RTCIceCandidate[], times: number[], errors: RTCPeerConnectionIceErrorEvent[]}>}
 */
function gather(configuration) {
  return new Promise((resolve) => {
    const pc = new RTCPeerConnection(configuration);
    const started = performance.now();
    /** @type {RTCIceCandidate[]} */
    const candidates = [];
    /** @type {number[]} */
    const times = [];
    /** @type {RTCPeerConnectionIceErrorEvent[]} */
    const errors = [];
    const finish = () => {
      window.clearTimeout(limit);
      pc.close();
      resolve({ candidates, times, errors });
    };
    const limit = window.setTimeout(finish, GATHER_LIMIT_MS);
    pc.addEventListener('icecandidate', ({ candidate }) => {
      if (!candidate) return finish();
      if (!candidate.candidate) return;
      candidates.push(candidate);
      times.push(Math.round(performance.now() - started));
      addRow(candidate, times.at(-1) ?? 0);
    });
    pc.addEventListener('icecandidateerror', (event) => errors.push(/** @type {RTCPeerConnectionIceErrorEvent} */ (event)));
    pc.createDataChannel('probe');
    pc.setLocalDescription().catch(finish);
  });
}

/** @param {Candidate} c @param {number} ms */
function addRow(c, ms) {
  const row = document.createElement('tr');
  row.dataset.type = c.type ?? '';
  for (const value of [c.type, c.relayProtocol ? `${c.protocol} (${c.relayProtocol})` : c.protocol, c.address, c.port, c.priority, `${ms} ms`]) {
    const cell = document.createElement('td');
    cell.textContent = String(value ?? '');
    row.append(cell);
  }
  $('candidates').querySelector('tbody')?.append(row);
}

/**
 * What the result means, in plain words.
 * @param {RTCConfiguration} configuration
 * @param {{candidates: RTCIceCandidate[], errors: RTCPeerConnectionIceErrorEvent[]}} result
 */
function verdicts(configuration, { candidates, errors }) {
  const urls = (configuration.iceServers ?? []).flatMap((s) => (Array.isArray(s.urls) ? s.urls : [s.urls]));
  const hasTurn = urls.some((u) => u.startsWith('turn'));
  const hasStun = urls.some((u) => u.startsWith('stun'));
  const kinds = new Set(candidates.map((c) => c.type));
  /** @type {[string, 'good' | 'bad'][]} */
  const found = [];
  if (errors.some((e) => e.errorCode === 401)) found.push(['ice.turnRejected', 'bad']);
  else if (hasTurn && !kinds.has('relay')) found.push(['ice.turnUnreachable', 'bad']);
  if (hasStun && !kinds.has('srflx')) found.push(['ice.stunBlocked', 'bad']);
  if (!hasTurn) found.push(['ice.noTurn', 'bad']);
  if (candidates.length === 0) found.push(['ice.nothing', 'bad']);
  if (!found.length) found.push(['ice.allGood', 'good']);
  return { found, kinds: [...kinds].join(', ') };
}

/** @param {SubmitEvent} event */
async function run(event) {
  event.preventDefault();
  document.body.dataset.state = 'gathering';
  $('candidates').querySelector('tbody')?.replaceChildren();
  $('verdicts').replaceChildren();
  const source = /** @type {HTMLInputElement} */ (document.querySelector('input[name="source"]:checked')).value;
  let configuration;
  try {
    configuration = source === 'server' ? await serverConfiguration() : customConfiguration();
  } catch {
    showVerdicts([['ice.serverUnreachable', 'bad']], '');
    document.body.dataset.state = 'done';
    return;
  }
  const result = await gather(configuration);
  const { found, kinds } = verdicts(configuration, result);
  showVerdicts(found, kinds);
  document.body.dataset.state = 'done';
}

/** @param {[string, 'good' | 'bad'][]} found @param {string} kinds */
function showVerdicts(found, kinds) {
  $('verdicts').replaceChildren(
    ...found.map(([key, tone]) => {
      const item = document.createElement('li');
      item.className = tone;
      item.dataset.verdict = key;
      // Kept as its key and values: a language switch says it again (translatePage).
      item.dataset.i18n = key;
      item.dataset.kinds = kinds;
      item.textContent = format(key, { kinds });
      return item;
    }),
  );
}

function main() {
  bindLocaleSelect(/** @type {HTMLSelectElement} */ ($('locale')));
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(location.hostname);
  if (location.protocol === 'http:' && !local) {
    $('insecure').hidden = false;
    $('insecure').textContent = t('ice.insecure');
  }
  $('ice-form').addEventListener('submit', run);
}

main();
