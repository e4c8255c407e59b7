"""The packages import only the layers below them.

Every import in a package's files counts, wherever it stands (inside a function or an
``if TYPE_CHECKING`` block too); relative imports are resolved against the file.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "router"


def _module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(root: Path, path: Path) -> Iterator[tuple[int, str]]:
    """Each module ``path`` imports (``from a import b`` also yields ``a.b``), by line."""
    module = _module_name(root, path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            yield node.lineno, source
            for alias in node.names:
                yield node.lineno, f"{source}.{alias.name}"


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _violations(
    package: str, allowed: tuple[str, ...], forbidden: tuple[str, ...], root: Path = ROOT
) -> list[str]:
    """Imports of ``package``'s files that reach ``forbidden`` packages, or any package
    of the project outside ``allowed`` (when ``allowed`` is given)."""
    found: list[str] = []
    for path in sorted((root / package.replace(".", "/")).rglob("*.py")):
        for line, name in _imported(root, path):
            if not _within(name, PACKAGE) or name == PACKAGE:
                continue
            outside = bool(allowed) and not any(_within(name, a) for a in allowed)
            if outside or any(_within(name, f) for f in forbidden):
                found.append(f"{path.relative_to(root)}:{line} imports {name}")
    return found


def test_the_check_sees_every_kind_of_import(tmp_path: Path) -> None:
    sim = tmp_path / "router" / "sim"
    (sim / "deep").mkdir(parents=True)
    (tmp_path / "router" / "__init__.py").write_text("")
    (sim / "__init__.py").write_text("from router.sim import deep\n")
    (sim / "deep" / "__init__.py").write_text(
        "import router.venues.transport\n"
        "from .. import clock\n"
        "from ...venues import adapter\n"
        "def late() -> None:\n"
        "    from router import journal\n"
    )
    assert _violations("router.sim", ("router.sim",), (), root=tmp_path) == [
        "router/sim/deep/__init__.py:1 imports router.venues.transport",
        "router/sim/deep/__init__.py:3 imports router.venues",
        "router/sim/deep/__init__.py:3 imports router.venues.adapter",
        "router/sim/deep/__init__.py:5 imports router.journal",
    ]


@pytest.mark.parametrize(
    ("package", "allowed", "forbidden"),
    [
        ("router.sim", ("router.sim",), ()),
        ("router.journal", (), ("router.venues", "router.engine", "router.service")),
        ("router.venues", (), ("router.journal", "router.engine", "router.service")),
    ],
)
def test_package_imports_stay_in_their_layer(
    package: str, allowed: tuple[str, ...], forbidden: tuple[str, ...]
) -> None:
    assert _violations(package, allowed, forbidden) == []
