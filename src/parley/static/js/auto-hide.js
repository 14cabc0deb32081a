// The call's controls step aside while you watch: after a few seconds without a touch, a mouse
// move or a key, they fade (class `controls-hidden` on the call screen); any of those brings them
// back. They stay while there is no picture to watch, while a sheet is open, and while a control
// has keyboard focus. A tap on faded controls only brings them back: it presses nothing.

const HIDE_AFTER_MS = 4000;

export class AutoHide {
  /**
   * @param {HTMLElement} screen  the call screen (the stage and the call bar)
   * @param {HTMLElement} bar  the call bar
   * @param {() => boolean} keep  true while the controls must stay (no picture, a sheet open)
   */
  constructor(screen, bar, keep) {
    this.screen = screen;
    this.bar = bar;
    this.keep = keep;
    /** @type {number | null} */
    this.timer = null;
    this.listening = new AbortController();
    const signal = this.listening.signal;
    const wake = () => this.wake();
    for (const type of ['pointermove', 'keydown', 'focusin']) screen.addEventListener(type, wake, { signal });
    // A tap on faded controls: it only brings them back (caught before the button sees it).
    let swallow = false;
    screen.addEventListener(
      'pointerdown',
      (event) => {
        swallow = this.hidden && event.pointerType !== 'mouse';
        this.wake();
      },
      { capture: true, signal },
    );
    bar.addEventListener(
      'click',
      (event) => {
        if (!swallow) return;
        swallow = false;
        event.preventDefault();
        event.stopPropagation();
      },
      { capture: true, signal },
    );
    this.wake();
  }

  get hidden() {
    return this.screen.classList.contains('controls-hidden');
  }

  /** Shows the controls, and starts counting again. */
  wake() {
    this.screen.classList.remove('controls-hidden');
    if (this.timer !== null) window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.#fade(), HIDE_AFTER_MS);
  }

  dispose() {
    if (this.timer !== null) window.clearTimeout(this.timer);
    this.timer = null;
    this.listening.abort();
    this.screen.classList.remove('controls-hidden');
  }

  #fade() {
    this.timer = null;
    if (this.keep() || this.bar.querySelector(':focus-visible')) {
      this.wake();
      return;
    }
    this.screen.classList.add('controls-hidden');
  }
}
