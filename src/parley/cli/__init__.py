"""The `parley` command.

`parley serve` loads the server and nothing of the Python peer: the peer's commands are
declared without importing aiortc or PyAV, which load only when one of them runs (and, when
they are not installed, say to install parley[peer]).
"""

import typer

from parley.cli.serving import serve
from parley.cli.tools import ice_test, token, turn_config
from parley.peer.cli import register as register_peer_commands

__all__ = ["app"]

app = typer.Typer(help="Parley: self-hosted WebRTC voice and video calls.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Parley: self-hosted WebRTC voice and video calls."""


register_peer_commands(app)
app.command()(serve)
app.command("turn-config")(turn_config)
app.command("ice-test")(ice_test)
app.command("token")(token)
