// The one error type the SDK rejects with: a stable `code` a program can test, and a message for
// people. docs/sdk.md ("Errors") lists the codes.

export class ParleyError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = 'ParleyError';
    this.code = code;
  }
}
