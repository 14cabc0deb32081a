// The signaling connection: one WebSocket speaking Parley protocol v1 (docs/protocol.md).
// UI-free: it turns frames into events and requests into promises.

export const PROTOCOL_VERSION = 1;

/** An `error` reply from the server, with its stable code. */
export class SignalingError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * Events: one per server message type (`peer-joined`, `offer`, …) with the message as `detail`,
 * and `closed` with `{code, reason}` when the socket ends without `close()` being called.
 */
export class Signaling extends EventTarget {
  /**
   * @param {string} url
   * @param {{name?: string, token?: string | null, presence?: boolean}} [hello]  sent with hello
   */
  constructor(url, hello = {}) {
    super();
    this.url = url;
    this.hello = hello;
    /** @type {{id: string, name: string} | null} */
    this.user = null;
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {string | null} */
    this.sessionId = null;
    /** @type {RTCIceServer[]} */
    this.iceServers = [];
    /** @type {RTCIceTransportPolicy} */
    this.iceTransportPolicy = 'all';
    this.iceServersAt = 0;
    this.nextRequestId = 1;
    /** @type {Map<number, {resolve: (m: any) => void, reject: (e: Error) => void}>} */
    this.pending = new Map();
    this.closedByUs = false;
  }

  /** Opens the socket and completes hello → welcome. Resolves with the welcome message. */
  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let welcomed = false;
      ws.addEventListener('open', () => {
        const { name, token, presence } = this.hello;
        this.send({ type: 'hello', v: PROTOCOL_VERSION, name: name ?? '', token: token ?? null, presence: !!presence });
      });
      ws.addEventListener('message', (event) => {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch {
          return;
        }
        if (!welcomed && message.type === 'welcome') {
          welcomed = true;
          this.sessionId = message.session;
          this.user = message.user;
          this.#takeIceServers(message);
          resolve(message);
          return;
        }
        this.#dispatch(message);
      });
      ws.addEventListener('close', (event) => {
        const code = event.code === 4401 ? 'auth-failed' : 'closed';
        const failure = new SignalingError(code, event.reason || `socket closed (${event.code})`);
        for (const { reject: fail } of this.pending.values()) fail(failure);
        this.pending.clear();
        if (!welcomed) reject(failure);
        if (!this.closedByUs) {
          this.dispatchEvent(new CustomEvent('closed', { detail: { code: event.code, reason: event.reason } }));
        }
      });
    });
  }

  /** @param {object} message */
  send(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  /**
   * Sends a message with a fresh `id`; resolves with the reply that echoes it, rejects with a
   * SignalingError when the server answers `error`.
   * @param {object} message
   */
  request(message) {
    const id = this.nextRequestId++;
    if (this.ws?.readyState !== WebSocket.OPEN) {
      return Promise.reject(new SignalingError('closed', 'not connected'));
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ ...message, id });
    });
  }

  /**
   * ICE servers for a new connection. TURN credentials expire (an hour by default), so after a
   * while fresh ones are asked for; if that fails, the ones at hand are still tried.
   * @returns {Promise<RTCConfiguration>}
   */
  async iceConfiguration(maxAgeMs = 20 * 60 * 1000) {
    if (Date.now() - this.iceServersAt > maxAgeMs) {
      try {
        this.#takeIceServers(await this.request({ type: 'ice-servers' }));
      } catch {
        // rate-limited or offline: fall through with what we have
      }
    }
    return { iceServers: this.iceServers, iceTransportPolicy: this.iceTransportPolicy };
  }

  /** @param {{iceServers?: RTCIceServer[], iceTransportPolicy?: RTCIceTransportPolicy}} message */
  #takeIceServers(message) {
    this.iceServers = message.iceServers ?? [];
    this.iceTransportPolicy = message.iceTransportPolicy ?? 'all';
    this.iceServersAt = Date.now();
  }

  close() {
    this.closedByUs = true;
    this.ws?.close(1000, 'bye');
  }

  /** @param {any} message */
  #dispatch(message) {
    const waiter = message.id != null ? this.pending.get(message.id) : undefined;
    if (waiter) {
      this.pending.delete(message.id);
      if (message.type === 'error') waiter.reject(new SignalingError(message.code, message.message));
      else waiter.resolve(message);
      return;
    }
    this.dispatchEvent(new CustomEvent(message.type, { detail: message }));
  }
}
