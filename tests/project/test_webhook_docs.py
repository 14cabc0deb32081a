"""The verifiers docs/webhooks.md hands receivers work: each accepts a request Parley signed
and refuses a wrong secret, an altered body and an old signature."""

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import msgspec

from parley.protocol.webhooks import CallData, CallEnded, Party, event_id, sign

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
SECRET = b"whsec-docs-0123456789"


def snippet(language: str) -> str:
    (code,) = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    return str(code)


def signed_event(at: int) -> tuple[str, bytes]:
    data = CallData(
        call="c1",
        caller=Party("ana", "Ana"),
        callee=Party("bo", "Bo"),
        media="audio",
        created=at - 60.0,
        ended=float(at),
        reason="no-answer",
        missed=True,
    )
    body = msgspec.json.encode(CallEnded(id=event_id("call.ended", "c1"), created=at, data=data))
    return sign(SECRET, body, at), body


CASES = [
    ("genuine", SECRET, b"", 0, True),
    ("wrong secret", b"not-the-secret", b"", 0, False),
    ("altered body", SECRET, b" ", 0, False),
    ("ten minutes old", SECRET, b"", -600, False),
]


def python_verdicts() -> list[bool]:
    namespace: dict[str, Any] = {}
    exec(snippet("python"), namespace)  # noqa: S102 - the documentation's own code, on purpose
    verdicts = []
    for _, secret, extra, age, _ in CASES:
        header, body = signed_event(int(time.time()) + age)
        try:
            event = namespace["verify_parley"](secret, header, body + extra)
        except ValueError:
            verdicts.append(False)
        else:
            assert event["data"]["missed"] is True
            verdicts.append(True)
    return verdicts


def test_the_python_snippet_verifies_and_refuses() -> None:
    assert python_verdicts() == [expected for *_, expected in CASES]


def test_the_javascript_snippet_verifies_and_refuses(tmp_path: Path) -> None:
    module = tmp_path / "verify.mjs"
    module.write_text(snippet("js"), encoding="utf-8")
    cases = []
    for _, secret, extra, age, _ in CASES:
        header, body = signed_event(int(time.time()) + age)
        cases.append([secret.decode(), header, (body + extra).decode()])
    runner = tmp_path / "run.mjs"
    runner.write_text(
        'import { verifyParley } from "./verify.mjs";\n'
        f"const cases = {json.dumps(cases)};\n"
        "console.log(JSON.stringify(cases.map(([s, h, b]) => {\n"
        "  try { return verifyParley(s, h, Buffer.from(b)).data.missed === true; }\n"
        "  catch { return false; }\n"
        "})));\n",
        encoding="utf-8",
    )
    out = subprocess.run(
        ["node", str(runner)], capture_output=True, text=True, timeout=30, check=True
    )
    assert json.loads(out.stdout) == [expected for *_, expected in CASES]
