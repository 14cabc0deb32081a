"""A browser call through a real nginx running deploy/nginx/parley.conf."""

import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from parley.server.tls import self_signed_certificate
from tests.e2e.helpers import assert_media_flows, wait_for_remote_video, wait_for_state
from tests.e2e.recorded_pages import ARTIFACTS
from tests.parley_server import running_server
from tests.support.raw_client import free_port

pytestmark = pytest.mark.e2e

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "parley.conf"


def site_for_test(parley_port: int, https_port: int, http_port: int, cert: Path, key: Path) -> str:
    """The sample itself, with only names, ports and certificate paths replaced."""
    site = SAMPLE.read_text()
    replacements = {
        "server 127.0.0.1:8080;": f"server 127.0.0.1:{parley_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "/etc/letsencrypt/live/calls.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/calls.example.org/privkey.pem": str(key),
    }
    for old, new in replacements.items():
        assert old in site, f"the sample no longer contains {old!r}"
        site = site.replace(old, new)
    return site


@pytest.fixture(scope="module")
def through_nginx(private_network: list[str]) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="parley-nginx-") as scratch:
        root = Path(scratch)
        cert, key = self_signed_certificate(root / "tls")
        log = ARTIFACTS / "e2e-nginx-parley.log"
        with running_server("--trusted-proxy", "127.0.0.1", log_path=log) as parley_url:
            parley_port = int(parley_url.rsplit(":", 1)[1])
            https_port, http_port = free_port(), free_port()
            site = site_for_test(parley_port, https_port, http_port, cert, key)
            (root / "nginx.conf").write_text(
                f"pid {root}/nginx.pid;\nerror_log {root}/error.log;\nevents {{}}\n"
                f"http {{\n  client_body_temp_path {root}/body;\n  proxy_temp_path {root}/proxy;\n"
                f"{site}\n}}\n"
            )
            nginx = subprocess.Popen(
                ["nginx", "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                for _ in range(50):
                    with socket.socket() as probe:
                        if probe.connect_ex(("127.0.0.1", https_port)) == 0:
                            break
                    if nginx.poll() is not None:
                        pytest.fail(f"nginx exited: {nginx.stderr.read() if nginx.stderr else ''}")
                    time.sleep(0.1)
                yield f"https://127.0.0.1:{https_port}"
            finally:
                nginx.terminate()
                nginx.wait(timeout=10)
                (ARTIFACTS / "e2e-nginx-error.log").write_bytes(
                    (root / "error.log").read_bytes() if (root / "error.log").exists() else b""
                )


def test_a_call_through_nginx_with_websocket_upgrade(
    through_nginx: str, open_page: Callable[..., Page], room_name: str
) -> None:
    url = f"{through_nginx}/r/{room_name}?autojoin=1"
    pages = [open_page(url, ignore_https_errors=True) for _ in range(2)]
    for page in pages:
        wait_for_state(page, "in-call", timeout_ms=30_000)
        assert_media_flows(page, ("audio", "video"))
        wait_for_remote_video(page)
    headers = pages[0].evaluate(
        "async () => Object.fromEntries((await fetch('/healthz')).headers.entries())"
    )
    assert headers["referrer-policy"] == "no-referrer", "Parley's own headers come through"
