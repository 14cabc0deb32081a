"""A host app's origin for browser tests: a plain HTTP server on its own loopback address
(another site than Parley's 127.0.0.1), serving one page at every path."""

import http.client
import ipaddress
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HostPage:
    """The origin (`http://address:port`) and the page it serves (settable: a frame's target
    may be known only once the host is up)."""

    def __init__(self, body: str) -> None:
        self.origin = ""
        self.body = body

    @staticmethod
    def framing(target: str) -> str:
        """A page framing `target`, with the permissions the docs tell hosts to give."""
        return (
            "<!doctype html><title>Host app</title>"
            f'<iframe id="call" src="{target}" width="800" height="600" '
            'allow="camera; microphone; display-capture; autoplay"></iframe>'
        )


@contextmanager
def host_origin(
    address: str, body: str = "<!doctype html><title>Host app</title>"
) -> Iterator[HostPage]:
    page = HostPage(body)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = page.body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    assert ipaddress.ip_address(address).is_loopback, f"{address} is not a loopback address"
    server = ThreadingHTTPServer((address, 0), Handler)
    page.origin = f"http://{address}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # Up before any browser is pointed at it: it answers with the page.
        probe = http.client.HTTPConnection(address, server.server_address[1], timeout=5)
        probe.request("GET", "/")
        answer = probe.getresponse()
        assert answer.status == 200 and answer.read() == page.body.encode()
        probe.close()
        yield page
    finally:
        server.shutdown()
        server.server_close()
