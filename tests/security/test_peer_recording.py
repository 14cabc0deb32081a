"""Attack surface, for the Python peer: what a malicious server says.

`parley bot record DIR` names each recording after the call id the server sends. A hostile
server (or one pretending to be Parley) could send `../../somewhere/else` and make the bot
write outside DIR, or overwrite an earlier recording, or put terminal escapes in what the bot
prints. The bot's loop (`_serve_calls`) runs here for real; the server's side is a stand-in
Phone that hands it hostile incoming calls.
"""

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest

from parley.peer.call import CallEnded
from parley.peer.cli import _serve_calls, recording_path
from parley.peer.phone import Incoming

HOSTILE_IDS = [
    "../../escaped",
    "../escaped",
    "/tmp/absolute",
    "sub/dir/id",
    "..",
    "",
    "x" * 5000,
    "nul\x00byte",
    "back\\slash\\..\\..\\escaped",
    "\x1b]0;pwned\x07title",
]


class Frames:
    frames = {"audio": 0, "video": 0}  # noqa: RUF012 - read only


@dataclass
class Answered:
    ended: "asyncio.Future[CallEnded]"
    counter: object = field(default_factory=lambda: Frames())

    async def close(self) -> None:
        pass


class HostileServerPhone:
    """Offers the bot one incoming call per hostile id; records where it was told to record."""

    recorded_to: ClassVar[list[str | None]] = []
    ids: ClassVar[list[str]] = []

    def __init__(self) -> None:
        self.user = {"id": "u-bot", "name": "Recorder"}
        self._ids = list(self.ids)

    @classmethod
    async def connect(cls, server: str, name: str) -> "HostileServerPhone":
        return cls()

    async def next_incoming(self) -> Incoming:
        call = self._ids.pop(0)
        return Incoming(call=call, caller_id="u-x", caller_name="\x1b[2J" + call, media="audio")

    async def answer(self, incoming: Incoming, **options: object) -> Answered:
        record_to = options.get("record_to")
        self.recorded_to.append(str(record_to) if record_to else None)
        if record_to:
            # as the recorder would (off the loop, as the recorder's own thread writes)
            await asyncio.to_thread(Path(str(record_to)).write_bytes, b"recording")
        done: asyncio.Future[CallEnded] = asyncio.get_running_loop().create_future()
        done.set_result(CallEnded(reason="hangup\x1b[31m", by=None))
        return Answered(done)

    async def close(self) -> None:
        pass


def test_a_hostile_call_id_never_leads_the_recording_out_of_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    HostileServerPhone.ids = [*HOSTILE_IDS, "AbC_123-def", "AbC_123-def"]
    HostileServerPhone.recorded_to = []
    serving = _serve_calls(
        HostileServerPhone,  # type: ignore[arg-type]
        "http://hostile.test",
        "Recorder",
        len(HostileServerPhone.ids),
        echo=False,
        record_dir=folder,
    )
    asyncio.run(serving)
    paths = [Path(p) for p in HostileServerPhone.recorded_to if p]
    assert len(paths) == len(HostileServerPhone.ids)
    for path in paths:
        assert path.parent == folder.resolve(), f"a recording went to {path}"
        assert path.suffix == ".mkv" and len(path.name) < 100
    assert len(set(paths)) == len(paths), "a recording was overwritten"
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in paths)
    assert not list(tmp_path.glob("escaped*")) and not (tmp_path / "sub").exists()
    # Positive control: a real call id is the file's name, and a repeat gets a number.
    assert paths[-2:] == [
        folder.resolve() / "AbC_123-def.mkv",
        folder.resolve() / "AbC_123-def-2.mkv",
    ]
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x00" not in printed, "the server's words drove the terminal"


def test_a_symlink_planted_in_the_folder_is_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    target = tmp_path / "precious"
    target.write_text("keep me")
    (folder / "AbC.mkv").symlink_to(target)
    path = recording_path(folder, "AbC")
    assert path == folder.resolve() / "AbC-2.mkv"
