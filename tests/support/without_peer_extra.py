"""`python -m parley` as on an install without parley[peer]: importing aiortc or av fails in
the subprocess, as if they were absent. Used by tests/peer (the commands that need the extra say
so; `parley bot webhooks` needs none of it)."""

import subprocess
import sys

WITHOUT_PEER_EXTRA = """
import runpy, sys
sys.modules["aiortc"] = None  # `import aiortc` now raises ModuleNotFoundError, as if absent
sys.modules["av"] = None
sys.argv = ["parley", *sys.argv[1:]]
runpy.run_module("parley", run_name="__main__", alter_sys=True)
"""


def command_without_peer_extra(*args: str) -> list[str]:
    """The command line that runs `parley <args>` without the extra."""
    return [sys.executable, "-c", WITHOUT_PEER_EXTRA, *args]


def parley_without_peer_extra(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command_without_peer_extra(*args),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
