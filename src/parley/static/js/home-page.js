// The start page: a new room (named by the server) or an existing one by name.
import { bindLocaleSelect } from './i18n.js';

bindLocaleSelect(/** @type {HTMLSelectElement} */ (document.getElementById('locale')));

document.getElementById('join-form')?.addEventListener('submit', (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ (document.getElementById('room-input'));
  if (input.reportValidity()) location.assign(`/r/${encodeURIComponent(input.value.trim())}`);
});
