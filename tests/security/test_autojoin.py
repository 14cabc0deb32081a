"""Attack surface: a link to a room with `?autojoin=1`.

Another site must not be able to send a visitor into a room with camera and microphone on
without a click: only a navigation from Parley's own pages, a typed URL or bookmark, or a frame
(which only allowed origins can make) keeps `autojoin`; anything else is redirected to the same
room without it, where the pre-join screen asks. tests/e2e/test_embedding.py drives it in
Chromium.
"""

import aiohttp
import pytest

from tests.server.helpers import StartServer

ROOM = "r/design-review?autojoin=1&media=audio"


@pytest.mark.parametrize(
    "fetch_headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "document", "Sec-Fetch-User": "?1"},
        {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Dest": "document"},
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "document"},
        {},  # a client that does not say where it comes from
    ],
)
async def test_a_cross_site_navigation_lands_on_the_pre_join_screen(
    start_server: StartServer, http: aiohttp.ClientSession, fetch_headers: dict[str, str]
) -> None:
    server = await start_server()
    async with http.get(server + ROOM, headers=fetch_headers, allow_redirects=False) as response:
        assert response.status == 303
        location = response.headers["Location"]
    assert "autojoin" not in location
    assert location == "/r/design-review?media=audio", "the rest of the link is kept"


@pytest.mark.parametrize(
    "fetch_headers",
    [
        {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Dest": "document"},
        {"Sec-Fetch-Site": "none", "Sec-Fetch-Dest": "document", "Sec-Fetch-User": "?1"},
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "iframe"},
    ],
)
async def test_own_links_typed_urls_and_frames_still_autojoin(
    start_server: StartServer, http: aiohttp.ClientSession, fetch_headers: dict[str, str]
) -> None:
    server = await start_server()
    async with http.get(server + ROOM, headers=fetch_headers, allow_redirects=False) as response:
        assert response.status == 200
        assert 'id="room-name"' in await response.text(), "the room page itself"
