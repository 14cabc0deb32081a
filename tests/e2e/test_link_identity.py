"""A link must not change who a visitor is (`/#token=…`).

Attack: someone sends the victim a link carrying the attacker's own guest token; before the
fix the phone page silently stored it, and the attacker then read the victim's later calls in
`/api/calls` and rang and answered as them. A host app's JWT in the fragment (its documented
use) still signs a new visitor in, and replaces a different stored identity only when the
person agrees.
"""

import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Dialog, Page

from parley.identity import mint_token
from tests.e2e.helpers import wait_for_state
from tests.e2e.phone import sign_in
from tests.e2e.recorded_pages import ARTIFACTS
from tests.parley_server import running_server

pytestmark = pytest.mark.e2e

SECRET = "host-app-secret-for-the-link-identity-test"


def stored_token(page: Page) -> str | None:
    return page.evaluate("() => localStorage.getItem('parley.token')")  # type: ignore[no-any-return]


def open_link(page: Page, url: str) -> None:
    """As a link opened in a new tab would: a fresh load, not a same-page fragment change."""
    page.goto("about:blank")
    page.goto(url)


def signed_in_user(page: Page) -> str:
    wait_for_state(page, "idle")
    return str(page.evaluate("() => window.parley.user.id"))


def test_a_link_with_someone_elses_guest_token_changes_nothing(
    open_page: Callable[..., Page], server_url: str
) -> None:
    attacker = open_page(server_url + "/")
    sign_in(attacker, server_url, "Mallory")
    attacker_token = stored_token(attacker)
    assert attacker_token and attacker_token.startswith("g1.")

    victim = open_page(server_url + "/")
    victim_id = sign_in(victim, server_url, "Ana")
    victim_token = stored_token(victim)

    open_link(victim, f"{server_url}/#token={attacker_token}")
    assert signed_in_user(victim) == victim_id, "the link made the victim someone else"
    assert stored_token(victim) == victim_token
    assert "token" not in victim.url, "the token stays in the address bar"


def test_a_host_apps_token_signs_in_and_replaces_another_only_when_confirmed(
    open_page: Callable[..., Page], private_network: list[str]
) -> None:
    def jwt(user: str, name: str) -> str:
        return mint_token(SECRET, user, name, "parley", 600, time.time())

    args = ("--auth", "jwt", "--jwt-secret", SECRET)
    with running_server(*args, log_path=ARTIFACTS / "link-identity-server.log") as server:
        page = open_page(f"{server}/#token={jwt('u-ana', 'Ana')}")
        assert signed_in_user(page) == "u-ana", "a new visitor is signed in by the host app"

        dialogs: list[str] = []

        def dismiss(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.once("dialog", dismiss)
        open_link(page, f"{server}/#token={jwt('u-mallory', 'Mallory')}")
        assert signed_in_user(page) == "u-ana", "another person's token was taken unasked"
        assert dialogs and "Mallory" in dialogs[0]

        page.once("dialog", lambda dialog: dialog.accept())
        open_link(page, f"{server}/#token={jwt('u-bob', 'Bob')}")
        assert signed_in_user(page) == "u-bob", "the person agreed to switch"
        page.reload()
        assert signed_in_user(page) == "u-bob", "and stays switched"
