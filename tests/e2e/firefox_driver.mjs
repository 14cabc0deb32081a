// Drives Debian's stock Firefox (firefox-esr) over WebDriver BiDi with puppeteer-core, for the
// end-to-end tests in Python (tests/e2e/firefox.py): no patched build, nothing downloaded.
//
// It reads one JSON command a line on stdin, {id, op, timeout, ...}, and writes one JSON reply
// a line on stdout, {id, ok, value} or {id, ok: false, error}; the first line it writes is
// {id: 0, ok: true, value: {version, pid}} once Firefox runs. Every command is bounded by its
// `timeout` (ms). Firefox stops when stdin closes, on `quit`, or on SIGTERM (puppeteer's own
// handler). Arguments: the Firefox binary, then the profile folder (made fresh by the caller).
import puppeteer from 'puppeteer-core';
import readline from 'node:readline';

const [executablePath, userDataDir] = process.argv.slice(2);

// Fake camera and microphone that need no prompt. Without a stored camera permission Firefox
// offers only the address of the interface that holds the default route, never loopback, and
// names it by an mDNS name that nothing in a test namespace resolves: the tests give it such an
// interface (tests/netns.py, veth_pair) and have it write the address itself. Chromium offers
// 127.0.0.1 (--allow-loopback-in-peer-connection), at times alone: without the loopback pref
// Firefox never sends its checks there, and about one call in six never connects.
const PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.peerconnection.ice.loopback': true,
  // Each person is a browser context with a connection pool of its own, and closing the context
  // leaves the pool's idle connections open until keep-alive ends (115 s by default): a few
  // people in a row would fill Parley's per-address connection cap from 127.0.0.1.
  'network.http.keep-alive.timeout': 5,
};

const browser = await puppeteer.launch({
  browser: 'firefox',
  executablePath,
  headless: true,
  userDataDir,
  extraPrefsFirefox: PREFS,
  defaultViewport: { width: 1280, height: 720 },
  timeout: 60_000,
  protocolTimeout: 60_000,
});

/** @type {Map<number, {page: import('puppeteer-core').Page, context: import('puppeteer-core').BrowserContext, console: string[]}>} */
const pages = new Map();
let nextPage = 1;

function opened(id) {
  const entry = pages.get(id);
  if (!entry) throw new Error(`no open page ${id}`);
  return entry;
}

const ops = {
  async open({ url }) {
    const context = await browser.createBrowserContext();
    // A window each: a tab behind another is a background page, whose timers Firefox slows and
    // whose animation frames stop (puppeteer's clicks wait on those).
    const page = await context.newPage({ type: 'window' });
    const console = [];
    page.on('console', (message) => console.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => console.push(`pageerror: ${error}`));
    const id = nextPage++;
    pages.set(id, { page, context, console });
    if (url) await page.goto(url);
    return id;
  },
  async goto({ page, url }) {
    await opened(page).page.goto(url);
    return null;
  },
  // `source` is a function's source (`(arg) => …`, async or not), called with `arg`, as
  // Playwright's page.evaluate does; the value comes back as JSON.
  async evaluate({ page, source, arg }) {
    const value = await opened(page).page.evaluate(`(${source})(${JSON.stringify(arg ?? null)})`);
    return value === undefined ? null : value;
  },
  // Real input events, after the element is visible, enabled and still (puppeteer's locator).
  async click({ page, selector, timeout }) {
    await opened(page).page.locator(selector).setTimeout(timeout).click();
    return null;
  },
  async fill({ page, selector, value, timeout }) {
    await opened(page).page.locator(selector).setTimeout(timeout).fill(value);
    return null;
  },
  async press({ page, key }) {
    await opened(page).page.keyboard.press(key);
    return null;
  },
  async screenshot({ page, path }) {
    await opened(page).page.screenshot({ path });
    return null;
  },
  async console({ page }) {
    return opened(page).console;
  },
  async close({ page }) {
    const entry = pages.get(page);
    pages.delete(page);
    if (entry) await entry.context.close();
    return null;
  },
  async quit() {
    setImmediate(stop);
    return null;
  },
};

function reply(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}

async function run(command) {
  const { id, op, timeout = 30_000 } = command;
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${op} took over ${timeout} ms`)), timeout);
  });
  try {
    if (!(op in ops)) throw new Error(`unknown op ${op}`);
    const value = await Promise.race([ops[op](command), expired]);
    reply({ id, ok: true, value });
  } catch (error) {
    reply({ id, ok: false, error: String(error?.stack ?? error) });
  } finally {
    clearTimeout(timer);
  }
}

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  const forced = setTimeout(() => {
    browser.process()?.kill('SIGKILL');
    process.exit(1);
  }, 10_000);
  try {
    await browser.close();
  } finally {
    clearTimeout(forced);
    process.exit(0);
  }
}

reply({ id: 0, ok: true, value: { version: await browser.version(), pid: browser.process()?.pid } });
const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim()) void run(JSON.parse(line));
});
lines.on('close', () => void stop());
