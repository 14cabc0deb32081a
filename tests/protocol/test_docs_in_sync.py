"""docs/protocol.md's reference half is generated from the models and must match them."""

import difflib
import re
from pathlib import Path

import pytest

from parley.protocol.close_codes import CLOSE_CODE_DESCRIPTIONS, CloseCode
from parley.protocol.docs import BEGIN, END, render_generated, splice
from parley.protocol.errors import ERROR_DESCRIPTIONS, ErrorCode
from parley.protocol.messages import CLIENT_MESSAGE_TYPES, SERVER_MESSAGE_TYPES, message_type

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
REFRESH = "run `python -m parley.protocol.docs --write`"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC_PATH.read_text(encoding="utf-8")


def section(doc: str, heading: str) -> str:
    """The text under a `### heading`, up to the next heading."""
    match = re.search(rf"^### {re.escape(heading)}.*?$(.*?)(?=^#|\Z)", doc, re.M | re.S)
    assert match, f"docs/protocol.md has no section {heading!r}"
    return match.group(1)


def first_column(table: str) -> list[str]:
    """The first cell of every body row of a markdown table, without backticks."""
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    cells = [row.split("|")[1].strip().strip("`") for row in rows]
    return [c for c in cells if c not in {"type", "code", "---"}]


# --- the generated block is in sync ---------------------------------------------------------


def test_generated_block_matches_the_models(doc: str) -> None:
    fresh = splice(doc)
    diff = "".join(
        difflib.unified_diff(
            doc.splitlines(keepends=True),
            fresh.splitlines(keepends=True),
            "docs/protocol.md",
            "generated from the models",
        )
    )
    assert fresh == doc, f"docs/protocol.md is out of date: {REFRESH}\n{diff}"


def test_splice_restores_an_altered_generated_block(doc: str) -> None:
    """The drift check can fail: a hand edit inside the block is caught and undone."""
    line = "| `room-full` | The room already holds its capacity of members. |"
    assert line in doc
    altered = doc.replace(line, "| `room-full` | Edited by hand. |")
    assert altered != doc
    assert splice(altered) != altered
    assert splice(altered) == splice(doc)


def test_splice_restores_a_removed_table_row(doc: str) -> None:
    start, end = doc.index(BEGIN), doc.index(END)
    block = doc[start:end]
    altered = doc[:start] + block.replace("| `peer-ready` |", "| `peer-ready-ish` |") + doc[end:]
    assert "`peer-ready-ish`" in altered
    assert "`peer-ready-ish`" not in splice(altered)
    assert splice(altered) == splice(doc)


def test_splice_keeps_the_hand_written_prose(doc: str) -> None:
    head, tail = doc[: doc.index(BEGIN)], doc[doc.index(END) + len(END) :]
    prose_edit = head.replace("## Transport", "## Transport (edited)")
    spliced = splice(prose_edit + render_generated() + tail)
    assert spliced.startswith(prose_edit)
    assert spliced.endswith(tail)


@pytest.mark.parametrize(
    "broken",
    ["no markers at all", f"{BEGIN}\nnever ends", f"{END}\n{BEGIN}"],
    ids=["missing", "unterminated", "reversed"],
)
def test_splice_refuses_a_doc_without_a_complete_block(broken: str) -> None:
    with pytest.raises(ValueError, match="generated block"):
        splice(broken)


# --- the doc names everything ---------------------------------------------------------------


def test_every_client_message_type_is_in_the_doc(doc: str) -> None:
    documented = first_column(section(doc, "Client → server messages"))
    assert documented == [message_type(cls) for cls in CLIENT_MESSAGE_TYPES]


def test_every_server_message_type_is_in_the_doc(doc: str) -> None:
    documented = first_column(section(doc, "Server → client messages"))
    assert documented == [message_type(cls) for cls in SERVER_MESSAGE_TYPES]


def test_every_error_code_is_in_the_doc(doc: str) -> None:
    documented = first_column(section(doc, "Error codes"))
    assert sorted(documented) == sorted(code.value for code in ErrorCode)


def test_every_close_code_is_in_the_doc(doc: str) -> None:
    documented = first_column(section(doc, "Close codes"))
    assert sorted(documented) == sorted(str(int(code)) for code in CloseCode)
    for code in CloseCode:
        assert f"| {int(code)} | {code.name.lower()} |" in doc


def test_every_error_code_and_close_code_has_a_description() -> None:
    """The doc tables are rendered from these dicts: a code missing here is missing there."""
    assert set(ERROR_DESCRIPTIONS) == set(ErrorCode)
    assert set(CLOSE_CODE_DESCRIPTIONS) == set(CloseCode)
    assert all(text.strip() for text in ERROR_DESCRIPTIONS.values())
    assert all(text.strip() for text in CLOSE_CODE_DESCRIPTIONS.values())


def test_every_error_code_is_in_the_json_schema(doc: str) -> None:
    schema = doc[doc.index("```json") : doc.index(END)]
    for code in ErrorCode:
        assert f'"{code.value}"' in schema
