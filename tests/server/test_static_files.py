"""Static files: compressed, cached for good under a versioned URL, and a returning visitor
downloads nothing (the page answers 304, its files come from the cache)."""

import gzip
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from parley.server.pages import STATIC_DIR
from parley.server.static_files import load_tree

YEAR = 365 * 24 * 3600
GZIP = {"Accept-Encoding": "gzip, br"}


@pytest.fixture
async def raw_http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client that shows the bytes as sent (no decompression of its own)."""
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session


def max_age(cache_control: str) -> int:
    found = re.search(r"max-age=(\d+)", cache_control)
    return int(found.group(1)) if found else 0


async def page_assets(raw_http: aiohttp.ClientSession, server: str, path: str) -> list[str]:
    async with raw_http.get(server + path, headers=GZIP) as response:
        html = gzip.decompress(await response.read()).decode()
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


@pytest.mark.parametrize("page", ["", "r/blue-fox", "ice-test"])
async def test_a_page_names_its_files_under_the_version_and_they_are_gzipped_and_kept_a_year(
    server: str, raw_http: aiohttp.ClientSession, page: str
) -> None:
    version = load_tree(STATIC_DIR).version
    assets = await page_assets(raw_http, server, page)
    assert assets and all(a.startswith(f"/static/v/{version}/") for a in assets), assets
    for asset in assets:
        async with raw_http.get(server + asset.lstrip("/"), headers=GZIP) as response:
            assert response.status == 200
            assert response.headers["Content-Encoding"] == "gzip"
            assert "immutable" in response.headers["Cache-Control"]
            assert max_age(response.headers["Cache-Control"]) >= YEAR
            assert "Accept-Encoding" in response.headers["Vary"]
            relative = asset.removeprefix(f"/static/v/{version}/")
            assert gzip.decompress(await response.read()) == (STATIC_DIR / relative).read_bytes()


async def test_a_page_is_compressed_and_revalidates_to_a_304_without_a_body(
    server: str, raw_http: aiohttp.ClientSession
) -> None:
    async with raw_http.get(server, headers=GZIP) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Cache-Control"] == "no-cache"
        etag = response.headers["ETag"]
    async with raw_http.get(server, headers={**GZIP, "If-None-Match": etag}) as again:
        assert again.status == 304
        assert await again.read() == b""


async def test_a_client_that_takes_no_gzip_gets_the_plain_file(
    server: str, raw_http: aiohttp.ClientSession
) -> None:
    for encoding in ("identity", "gzip;q=0"):
        async with raw_http.get(
            server + "static/js/i18n.js", headers={"Accept-Encoding": encoding}
        ) as response:
            assert "Content-Encoding" not in response.headers
            assert await response.read() == (STATIC_DIR / "js" / "i18n.js").read_bytes()


async def test_fixed_urls_and_other_versions_revalidate_instead_of_being_kept(
    server: str, raw_http: aiohttp.ClientSession
) -> None:
    for path in ("static/js/i18n.js", "static/v/0123456789abcdef/js/i18n.js", "sdk/v1/parley.js"):
        async with raw_http.get(server + path, headers=GZIP) as response:
            assert response.status == 200, path
            assert response.headers["Cache-Control"] == "no-cache", path
            assert response.headers["Content-Encoding"] == "gzip", path
            etag = response.headers["ETag"]
        async with raw_http.get(server + path, headers={"If-None-Match": etag}) as again:
            assert again.status == 304, path


async def test_a_versioned_url_serves_only_the_package_files(
    server: str, raw_http: aiohttp.ClientSession
) -> None:
    version = load_tree(STATIC_DIR).version
    for path in (f"static/v/{version}/js/", f"static/v/{version}/../server/pages.py"):
        async with raw_http.get(server + path) as response:
            assert response.status == 404, path
