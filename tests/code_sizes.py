"""Module and function sizes: ``python -m tests.code_sizes [paths...]`` prints the largest.

The team's limits are 500 lines a module and 80 lines a function (``def`` line to last
line, nested functions counted inside their parent too); ``tests/unit/test_code_sizes.py``
holds the package to them.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def python_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def module_lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def function_lines(path: Path) -> Iterator[tuple[str, int]]:
    """(qualified name, lines) of every function and method in a module."""
    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                yield name, child.end_lineno - child.lineno + 1
                yield from walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")

    yield from walk(ast.parse(path.read_text(encoding="utf-8")), "")


def main(argv: list[str]) -> None:
    files = list(python_files(Path(a) for a in (argv or ["HoloLoom"])))
    modules = sorted(((module_lines(f), str(f)) for f in files), reverse=True)
    functions = sorted(((n, f"{f}:{name}") for f in files for name, n in function_lines(f)), reverse=True)
    print("largest modules:", *(f"  {n:5d}  {where}" for n, where in modules[:5]), sep="\n")
    print("largest functions:", *(f"  {n:5d}  {where}" for n, where in functions[:5]), sep="\n")


if __name__ == "__main__":
    main(sys.argv[1:])
