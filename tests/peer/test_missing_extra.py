"""Without parley[peer] (aiortc, PyAV) the peer's commands still show their help, and running
one says what to install instead of printing a traceback.

Each case runs `python -m parley` in a subprocess in which importing aiortc and av fails, as
on an install without the extra.
"""

import pytest

from tests.support.without_peer_extra import parley_without_peer_extra


@pytest.mark.parametrize(
    "command",
    [
        ["call", "someone", "--server", "http://127.0.0.1:9"],
        ["answer", "--server", "http://127.0.0.1:9"],
        ["bot", "echo", "--server", "http://127.0.0.1:9"],
        ["bot", "record", "recordings", "--server", "http://127.0.0.1:9"],
    ],
)
def test_a_peer_command_without_aiortc_says_to_install_the_extra(command: list[str]) -> None:
    done = parley_without_peer_extra(*command)
    assert done.returncode == 1, done.stderr
    assert "install parley[peer]" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_the_peer_commands_are_listed_without_aiortc() -> None:
    done = parley_without_peer_extra("call", "--help")
    assert done.returncode == 0, done.stderr
    assert "Call a user" in done.stdout
