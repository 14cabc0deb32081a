// Focus for dialogs and sheets: opening one moves focus into it (remembering where it was),
// Tab stays inside a modal one, Escape closes it, and closing gives focus back, or to a fallback
// when that element is gone or hidden.

/** @type {WeakMap<HTMLElement, {back: Element | null, onKey: (event: KeyboardEvent) => void}>} */
const open = new WeakMap();

const FOCUSABLE = 'button, [href], input, select, textarea, summary, [tabindex]:not([tabindex="-1"])';

/** Whether `element` can take focus now (attached, shown, not disabled). @param {Element | null} element */
export function canFocus(element) {
  if (!(element instanceof HTMLElement) || !element.isConnected || element === document.body) return false;
  if (element.closest('[hidden], [inert]') || (element instanceof HTMLButtonElement && element.disabled)) return false;
  return element.getClientRects().length > 0;
}

/** The elements of `root` that Tab reaches now, in order. @param {HTMLElement} root */
export function focusables(root) {
  return /** @type {HTMLElement[]} */ ([...root.querySelectorAll(FOCUSABLE)]).filter(canFocus);
}

/**
 * Shows `dialog` and moves focus to `first` (default: its first control).
 * @param {HTMLElement} dialog
 * @param {{first?: HTMLElement | null, modal?: boolean, onEscape?: () => void}} [options]
 */
export function openDialog(dialog, { first = null, modal = true, onEscape } = {}) {
  if (!open.has(dialog)) {
    const onKey = (/** @type {KeyboardEvent} */ event) => {
      if (event.key === 'Escape' && onEscape) {
        event.preventDefault();
        onEscape();
      } else if (event.key === 'Tab' && modal) {
        keepTabInside(dialog, event);
      }
    };
    dialog.addEventListener('keydown', onKey);
    open.set(dialog, { back: document.activeElement, onKey });
  }
  dialog.hidden = false;
  const target = first && canFocus(first) ? first : (focusables(dialog)[0] ?? dialog);
  if (target === dialog && !dialog.hasAttribute('tabindex')) dialog.tabIndex = -1;
  target.focus();
}

/**
 * Hides `dialog` and gives focus back to where it was, or to `fallback`.
 * @param {HTMLElement} dialog @param {HTMLElement | null} [fallback]
 */
export function closeDialog(dialog, fallback = null) {
  const state = open.get(dialog);
  dialog.hidden = true;
  if (!state) return;
  open.delete(dialog);
  dialog.removeEventListener('keydown', state.onKey);
  const focusWasInside = dialog.contains(document.activeElement) || document.activeElement === document.body;
  if (!focusWasInside) return; // the user moved on meanwhile: leave their focus alone
  const back = canFocus(state.back) ? /** @type {HTMLElement} */ (state.back) : fallback;
  back?.focus();
}

/** @param {HTMLElement} dialog @param {KeyboardEvent} event */
function keepTabInside(dialog, event) {
  const items = focusables(dialog);
  if (items.length === 0) return;
  const first = items[0];
  const last = items[items.length - 1];
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
}
