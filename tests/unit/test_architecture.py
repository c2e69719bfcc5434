"""The module boundaries of docs/DESIGN.md, checked on the source (AST, nothing imported).

- a service imports no other service (they talk over gRPC and events only);
- the chassis imports no service, no gateway and no runtime (it is the shared foundation);
- the gateway imports no service (it routes by the registry the runtime hands it);
- every service package's `__init__.py` exports `SPEC`;
- no source file is longer than 400 lines (generated stubs excepted).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "parovoz"
GENERATED = SRC / "protos"
MAX_LINES = 400


def _sources(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if GENERATED not in p.parents)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve_from(package: list[str], level: int, module: str | None) -> str:
    """The absolute module of `from <level dots><module> import ...` inside `package`."""
    base = package[: len(package) - (level - 1)] if level > 1 else list(package)
    if level == 0:
        base = []
    return ".".join(base + ([module] if module else []))


@cache
def imports_of(path: Path) -> tuple[tuple[str, int], ...]:
    """Absolute names of every module `path` imports (relative imports resolved), with line numbers.

    `from a.b import c` yields both `a.b` and `a.b.c` (c may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve_from(package, node.level, node.module)
            found.append((base, node.lineno))
            found.extend((f"{base}.{alias.name}", node.lineno) for alias in node.names if alias.name != "*")
    return tuple(found)


def _violations(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in files:
        for name, line in imports_of(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(SRC.parent)}:{line} imports {name}")
    return sorted(set(bad))


def _service_names() -> list[str]:
    root = SRC / "services"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.rglob("*.py")))


def test_the_scan_finds_the_source_tree() -> None:
    assert (SRC / "chassis" / "__init__.py").is_file()
    assert len(_sources(SRC / "chassis")) >= 5
    assert imports_of(SRC / "chassis" / "service.py"), "the AST scan found no import at all"


def test_relative_imports_are_resolved() -> None:
    package = ["parovoz", "services", "x"]  # inside parovoz/services/x/<module>.py
    assert resolve_from(package, 2, "y") == "parovoz.services.y"
    assert resolve_from(package, 1, None) == "parovoz.services.x"
    assert resolve_from(package, 1, "domain.model") == "parovoz.services.x.domain.model"
    assert resolve_from(package, 0, "parovoz.chassis") == "parovoz.chassis"
    assert _module_name(SRC / "services" / "x" / "api.py") == "parovoz.services.x.api"
    assert _module_name(SRC / "services" / "x" / "__init__.py") == "parovoz.services.x"


def test_the_scan_finds_the_services() -> None:
    assert {"auth", "account"} <= set(_service_names())


@pytest.mark.parametrize("service", _service_names())
def test_a_service_imports_no_other_service(service: str) -> None:
    others = tuple(f"parovoz.services.{s}" for s in _service_names() if s != service)
    files = _sources(SRC / "services" / service)
    # `import parovoz.services` (the bare package) would reach every service through the registry
    bad = _violations(files, others)
    bad += [
        f"{p.relative_to(SRC.parent)}:{line} imports {name}"
        for p in files
        for name, line in imports_of(p)
        if name == "parovoz.services"
    ]
    assert not bad, "services talk over gRPC and events only:\n" + "\n".join(bad)


def test_the_chassis_imports_no_service_gateway_or_runtime() -> None:
    bad = _violations(
        _sources(SRC / "chassis"),
        ("parovoz.services", "parovoz.gateway", "parovoz.runtime", "parovoz.cli"),
    )
    assert not bad, "the chassis is the foundation; it depends on no part above it:\n" + "\n".join(bad)


def test_the_gateway_imports_no_service() -> None:
    files = _sources(SRC / "gateway") if (SRC / "gateway").is_dir() else []
    bad = _violations(files, ("parovoz.services",))
    assert not bad, "the gateway routes by the registry the runtime hands it:\n" + "\n".join(bad)


@pytest.mark.parametrize("service", _service_names())
def test_every_service_package_exports_spec(service: str) -> None:
    init = SRC / "services" / service / "__init__.py"
    assert init.is_file(), f"services/{service} has no __init__.py"
    tree = ast.parse(init.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    assert "SPEC" in names, f"services/{service}/__init__.py must export SPEC"


def test_no_source_file_exceeds_the_line_limit() -> None:
    too_long = []
    for path in _sources(SRC):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            too_long.append(f"{path.relative_to(SRC.parent)}: {lines} lines")
    assert not too_long, f"split these files (at most {MAX_LINES} lines each):\n" + "\n".join(too_long)
