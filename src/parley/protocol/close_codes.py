"""WebSocket close codes the server uses. 4xxx codes mirror the HTTP status they resemble."""

from enum import IntEnum


class CloseCode(IntEnum):
    PROTOCOL_ERROR = 1002
    INVALID_TEXT = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    SERVICE_RESTART = 1012
    AUTH_FAILED = 4401
    HELLO_TIMEOUT = 4408
    TAKEN_OVER = 4409
    SLOW_CONSUMER = 4429


CLOSE_CODE_DESCRIPTIONS: dict[CloseCode, str] = {
    CloseCode.SERVICE_RESTART: (
        "The server is restarting: reconnect (with backoff) and resume; calls go on meanwhile."
    ),
    CloseCode.PROTOCOL_ERROR: (
        "A frame broke the WebSocket protocol (a stray continuation, compression never agreed)."
    ),
    CloseCode.INVALID_TEXT: "A text frame was not valid UTF-8.",
    CloseCode.POLICY_VIOLATION: (
        "The client sent messages faster than allowed (50 a second on average, bursts of 200)."
    ),
    CloseCode.MESSAGE_TOO_BIG: "A frame was larger than `maxMessageBytes` (64 KiB by default).",
    CloseCode.AUTH_FAILED: "The token in `hello` was refused (see the `auth-failed` error).",
    CloseCode.HELLO_TIMEOUT: "No `hello` arrived within the hello deadline (10 s by default).",
    CloseCode.TAKEN_OVER: (
        "Another socket resumed this session (the same client reconnected): do not reconnect."
    ),
    CloseCode.SLOW_CONSUMER: (
        "The client read its socket so slowly that the server's outbox for it overflowed."
    ),
}
