"""The code base stays ruff-clean (the rules are in pyproject.toml)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (pip install -e '.[test]' installs it)")
    result = subprocess.run(
        [ruff, "check", "segmentum", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (pip install -e '.[test]' installs it)")
    result = subprocess.run(
        [ruff, "format", "--check", "segmentum", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, "run `ruff format`:\n" + result.stdout + result.stderr


MAX_BODY_LINES = 80
# Functions allowed to stay long without a ``# long:`` reason (none: give the reason instead).
_LONG_ALLOWED: set[str] = set()


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function's body, its docstring excluded."""
    body = node.body
    first = body[0]
    if (
        len(body) > 1
        and isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        body = body[1:]
    return int(body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1


def _says_why(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A ``# long:`` comment just above the def (or its decorators; a comment block counts
    from its first line), or between the signature and the first statement."""
    i = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 2
    above = []
    while i >= 0 and lines[i].strip().startswith("#"):
        above.append(lines[i])
        i -= 1
    near = above + lines[node.lineno : node.body[0].lineno - 1]
    return any(line.strip().startswith("# long:") for line in near)


def long_functions(root: Path) -> list[str]:
    """``path:line name (n lines)`` of every function over the limit without a reason."""
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            n = _body_lines(node)
            if n > MAX_BODY_LINES and node.name not in _LONG_ALLOWED and not _says_why(lines, node):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} ({n})")
    return found


def test_no_long_function_without_a_reason() -> None:
    found = long_functions(ROOT / "segmentum")
    assert not found, (
        f"functions over {MAX_BODY_LINES} body lines (docstring excluded): split them into "
        "named steps, or put a '# long: <why>' comment on the line above the def:\n"
        + "\n".join(found)
    )


def test_the_long_function_check_catches_one(tmp_path: Path) -> None:
    pkg = tmp_path / "segmentum"
    pkg.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_BODY_LINES + 1))
    (pkg / "a.py").write_text(
        f'def big():\n    """Doc."""\n{body}\n\n\ndef small():\n    return 1\n'
    )
    (pkg / "b.py").write_text(f"# long: one table\n# of constants\ndef fine():\n{body}\n")
    (pkg / "c.py").write_text(f"# a comment, not a reason\ndef bad():\n{body}\n")
    assert long_functions(pkg) == ["segmentum/a.py:1 big (81)", "segmentum/c.py:2 bad (81)"]


def _overload_or_accessor(node: ast.stmt) -> bool:
    """A ``typing.overload`` stub or a property's setter/deleter: a name defined again on
    purpose."""
    for d in getattr(node, "decorator_list", []):
        target = d.func if isinstance(d, ast.Call) else d
        if isinstance(target, ast.Name) and target.id == "overload":
            return True
        if isinstance(target, ast.Attribute) and target.attr in {"overload", "setter", "deleter"}:
            return True
    return False


def redefined_names(root: Path) -> list[str]:
    """``path:line name`` of every function or class defined a second time in the same
    module or class body. Ruff's F811 sees only a name redefined before any use; one used
    and then redefined silently changes what the earlier callers get (a test helper that
    asserts, shadowed by one that returns a list nobody reads, asserts nothing)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bodies = [tree.body] + [n.body for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
        for body in bodies:
            seen: set[str] = set()
            for node in body:
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    continue
                if node.name in seen and not _overload_or_accessor(node):
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name}")
                seen.add(node.name)
    return found


def test_no_function_or_class_is_defined_twice() -> None:
    found = [
        f for part in ("segmentum", "tests", "benchmarks") for f in redefined_names(ROOT / part)
    ]
    assert not found, "defined a second time in the same scope; rename one:\n" + "\n".join(found)


def test_the_redefinition_check_catches_one(tmp_path: Path) -> None:
    pkg = tmp_path / "tests"
    pkg.mkdir()
    (pkg / "a.py").write_text(
        "def same():\n    return 1\n\n\nx = same()\n\n\ndef same():\n    return 2\n"
    )
    (pkg / "b.py").write_text(
        "class C:\n    @property\n    def v(self):\n        return 1\n\n"
        "    @v.setter\n    def v(self, value):\n        pass\n\n"
        "    def m(self):\n        pass\n\n    def m(self):\n        pass\n"
    )
    assert redefined_names(pkg) == ["tests/a.py:8 same", "tests/b.py:13 m"]
