"""Rooms of a size one can hold in mind: a module stays under about 400 lines and a function
under about 60, unless a comment beside it says why (CONTRIBUTING.md)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "parley"
MODULE_LINES = 400
FUNCTION_LINES = 60
MODULE_REASON = "Over 400 lines:"
FUNCTION_REASON = "Over 60 lines:"


def modules() -> list[Path]:
    return sorted([*PACKAGE.rglob("*.py"), *(PACKAGE / "static").rglob("*.js")])


def test_no_module_is_over_400_lines_without_a_reason() -> None:
    too_long = []
    for path in modules():
        text = path.read_text(encoding="utf-8")
        head = "\n".join(text.splitlines()[:20])
        if text.count("\n") > MODULE_LINES and MODULE_REASON not in head:
            too_long.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
    assert too_long == [], f"split these, or say why at the top ({MODULE_REASON!r})"


def long_functions(source: str) -> list[tuple[str, int]]:
    """(name, lines) of each function over the limit with no reason on the lines above it."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        above = "\n".join(lines[max(0, first - 4) : first - 1])
        if length > FUNCTION_LINES and FUNCTION_REASON not in above:
            found.append((node.name, length))
    return found


def test_no_function_is_over_60_lines_without_a_reason() -> None:
    too_long = [
        f"{path.relative_to(ROOT)}:{name} ({length} lines)"
        for path in PACKAGE.rglob("*.py")
        for name, length in long_functions(path.read_text(encoding="utf-8"))
    ]
    assert too_long == [], f"split these, or say why just above ({FUNCTION_REASON!r})"


def test_the_size_checks_catch_what_they_look_for() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_LINES + 1))
    assert long_functions(f"def big():\n{body}\n") == [("big", FUNCTION_LINES + 2)]
    assert long_functions(f"# {FUNCTION_REASON} a table\ndef big():\n{body}\n") == []
