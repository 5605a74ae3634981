"""Small modules, short functions: the store seam and the test doubles stay within the limits.

The rest of the package joins this list as issue 14 splits it (``python -m tests.code_sizes``
prints the largest modules and functions anywhere).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.code_sizes import MAX_FUNCTION_LINES, MAX_MODULE_LINES, function_lines, module_lines, python_files

PACKAGE = Path(__file__).resolve().parents[2] / "HoloLoom"
CHECKED = [PACKAGE / "memory", PACKAGE / "testing.py"]
FILES = list(python_files(CHECKED))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_are_within_the_limits(path: Path) -> None:
    assert module_lines(path) <= MAX_MODULE_LINES
    long = {name: n for name, n in function_lines(path) if n > MAX_FUNCTION_LINES}
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_checker_sees_every_function_including_nested_ones(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("class A:\n    async def f(self):\n        def g():\n            pass\n        return g\n")
    assert dict(function_lines(source)) == {"A.f": 4, "A.f.g": 2}
    assert module_lines(source) == 5
