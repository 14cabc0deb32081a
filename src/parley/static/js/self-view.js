// The self-view: a small tile of your own camera that you can drag out of the way; let go, it
// settles in the nearest corner of the stage.

const CORNERS = ['corner-tl', 'corner-tr', 'corner-bl', 'corner-br'];

/** @param {HTMLElement} tile  the local video, inside the stage */
export function bindSelfView(tile) {
  /** @type {{x: number, y: number, left: number, top: number} | null} */
  let drag = null;
  tile.addEventListener('pointerdown', (event) => {
    const box = tile.getBoundingClientRect();
    drag = { x: event.clientX, y: event.clientY, left: box.left, top: box.top };
    tile.setPointerCapture(event.pointerId);
    tile.classList.add('dragging');
  });
  tile.addEventListener('pointermove', (event) => {
    if (!drag) return;
    tile.style.translate = `${event.clientX - drag.x}px ${event.clientY - drag.y}px`;
  });
  const drop = (/** @type {PointerEvent} */ event) => {
    if (!drag) return;
    const stage = /** @type {HTMLElement} */ (tile.parentElement).getBoundingClientRect();
    const box = tile.getBoundingClientRect();
    const right = box.left + box.width / 2 > stage.left + stage.width / 2;
    const bottom = box.top + box.height / 2 > stage.top + stage.height / 2;
    tile.classList.remove('dragging', ...CORNERS);
    tile.classList.add(`corner-${bottom ? 'b' : 't'}${right ? 'r' : 'l'}`);
    tile.style.translate = '';
    drag = null;
    if (tile.hasPointerCapture(event.pointerId)) tile.releasePointerCapture(event.pointerId);
  };
  tile.addEventListener('pointerup', drop);
  tile.addEventListener('pointercancel', drop);
}
