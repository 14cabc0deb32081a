// A system notification for an incoming call while the page is in the background.

/** @type {Notification | null} */
let shown = null;

export function canAskForNotifications() {
  return 'Notification' in window && Notification.permission === 'default';
}

export async function askForNotifications() {
  if ('Notification' in window) await Notification.requestPermission();
}

/** @param {string} title @param {string} body @param {string} tag */
export function notifyIncoming(title, body, tag) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible') return;
  shown?.close();
  shown = new Notification(title, { body, tag, requireInteraction: true });
  shown.onclick = () => window.focus();
}

export function closeNotification() {
  shown?.close();
  shown = null;
}
