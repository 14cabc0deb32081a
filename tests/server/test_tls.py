"""The self-signed certificate for LAN use, and serving https/wss with it."""

import ipaddress
import ssl
import stat
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509

from parley.config import ServerSettings
from parley.server import tls
from parley.server.app import create_app
from parley.server.site import signaling_site
from parley.server.tls import self_signed_certificate, server_context


def names_in(cert_path: Path) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(sans.get_values_for_type(x509.DNSName))
    ips = {str(a) for a in sans.get_values_for_type(x509.IPAddress)}
    return dns, ips


def test_covers_this_machines_names_and_addresses_and_keeps_the_key_private(
    tmp_path: Path,
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    dns, ips = names_in(cert)
    assert "localhost" in dns
    assert {"127.0.0.1", "::1"} <= ips
    _, addresses = tls.machine_names()
    assert {str(a) for a in addresses} == ips
    assert all(not ipaddress.ip_address(ip).is_link_local for ip in ips)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    server_context(cert, key)  # loads as a TLS server identity


def test_is_reused_across_restarts_and_renewed_near_expiry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = self_signed_certificate(tmp_path)
    serial = x509.load_pem_x509_certificate(first.read_bytes()).serial_number
    again, _ = self_signed_certificate(tmp_path)
    assert x509.load_pem_x509_certificate(again.read_bytes()).serial_number == serial

    monkeypatch.setattr(tls, "VALID_DAYS", 10)  # shorter than the renewal margin
    short, _ = self_signed_certificate(tmp_path / "short")
    short_serial = x509.load_pem_x509_certificate(short.read_bytes()).serial_number
    renewed, _ = self_signed_certificate(tmp_path / "short")
    assert x509.load_pem_x509_certificate(renewed.read_bytes()).serial_number != short_serial


async def test_https_and_wss_work_for_a_client_that_trusts_the_certificate(
    tmp_path: Path,
) -> None:
    cert, key = self_signed_certificate(tmp_path / "tls")
    runner = web.AppRunner(create_app(ServerSettings(data_dir=tmp_path / "data")))
    await runner.setup()
    site = signaling_site(runner, "127.0.0.1", 0, ssl_context=server_context(cert, key))
    await site.start()
    port = runner.addresses[0][1]
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"https://localhost:{port}/healthz", ssl=trust) as response:
                assert response.status == 200
            ws = await http.ws_connect(f"wss://127.0.0.1:{port}/ws", ssl=trust)
            await ws.send_str('{"type":"hello","v":1}')
            assert (await ws.receive_json())["type"] == "welcome"
            await ws.close()
            refusing = ssl.create_default_context()  # the system's CAs do not know it
            try:
                await http.get(f"https://localhost:{port}/healthz", ssl=refusing)
                raise AssertionError("an untrusted self-signed certificate was accepted")
            except aiohttp.ClientConnectorCertificateError:
                pass
    finally:
        await runner.cleanup()
