// The pages' icons: inline SVG shipped with the package (no icon font, no CDN). Each is drawn on
// a 24×24 grid in currentColor, and hidden from screen readers: the button around it carries
// the words.

/** @type {Record<string, string>} the inner markup of each icon */
const PATHS = {
  mic: '<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3M8 21h8"/>',
  micOff:
    '<path d="M15 10V6a3 3 0 0 0-5.7-1.3M9 9v2a3 3 0 0 0 4.6 2.5M5 11a7 7 0 0 0 11.2 5.6M19 11a7 7 0 0 1-.6 2.8M12 18v3M8 21h8M3 3l18 18"/>',
  camera: '<rect x="2" y="6" width="14" height="12" rx="2"/><path d="M16 10l6-3v10l-6-3z"/>',
  cameraOff: '<path d="M16 16v2H4a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h2M10 6h4a2 2 0 0 1 2 2v2l6-3v10M3 3l18 18"/>',
  screen: '<rect x="2" y="4" width="20" height="13" rx="2"/><path d="M8 21h8M12 17v4M9 11l3-3 3 3M12 8v6"/>',
  flip: '<path d="M4 8h13l-3-3M20 16H7l3 3"/>',
  more: '<circle cx="5" cy="12" r="1.6"/><circle cx="12" cy="12" r="1.6"/><circle cx="19" cy="12" r="1.6"/>',
  phone:
    '<path d="M5 3h4l2 5-2.5 1.5a11 11 0 0 0 6 6L16 13l5 2v4a2 2 0 0 1-2 2A17 17 0 0 1 3 5a2 2 0 0 1 2-2z"/>',
  hangUp:
    '<path d="M3 14.5c5-4.7 13-4.7 18 0l-2.3 2.6-3.6-1.6.3-2.6a11 11 0 0 0-6.8 0l.3 2.6-3.6 1.6z"/>',
  close: '<path d="M6 6l12 12M18 6L6 18"/>',
  edit: '<path d="M4 20h4L19 9l-4-4L4 16zM14 6l4 4"/>',
  back: '<path d="M15 5l-7 7 7 7"/>',
  person: '<circle cx="12" cy="8" r="4"/><path d="M4 21a8 8 0 0 1 16 0"/>',
};

/**
 * One icon's SVG markup.
 * @param {keyof typeof PATHS} name
 */
export function icon(name) {
  return (
    '<svg class="icon" viewBox="0 0 24 24" width="24" height="24" fill="none" stroke="currentColor" ' +
    `stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">${PATHS[name]}</svg>`
  );
}

/** The tab's icon: Parley's speech mark, or a green phone while a call rings here.
 * @param {boolean} ringing */
export function faviconUrl(ringing) {
  const body = ringing
    ? `<circle cx="12" cy="12" r="12" fill="#1a7f37"/><g transform="translate(4 4) scale(.67)" fill="none" stroke="#fff" stroke-width="2.4">${PATHS.phone}</g>`
    : '<rect width="24" height="24" rx="6" fill="#0b5cd5"/><path d="M6 7h12v8h-7l-4 3v-3H6z" fill="#fff"/>';
  return `data:image/svg+xml,${encodeURIComponent(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">${body}</svg>`)}`;
}

/** Draws the icon each `[data-icon]` element under `root` names. @param {ParentNode} [root] */
export function placeIcons(root = document) {
  for (const element of /** @type {NodeListOf<HTMLElement>} */ (root.querySelectorAll('[data-icon]'))) {
    element.innerHTML = icon(/** @type {keyof typeof PATHS} */ (element.dataset.icon));
  }
}
