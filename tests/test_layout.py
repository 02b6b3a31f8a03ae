"""The layout of the test code: shared harnesses live in ``testkit``, which the benchmarks use too;
``bench/`` and ``testkit/`` never import ``tests``; a test module never imports another test
module (what two of them share belongs in ``testkit``); no app package imports ``testkit`` or
``tests`` (neither is installed with the app)."""

from __future__ import annotations

import ast
import configparser
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.paths import REPO

APP_PACKAGES = ("firmware", "privacy", "streaming", "camera_app", "site_app")


def imported_modules(source: str, package: str = "") -> Iterator[str]:
    """Every module ``source`` imports, at any depth (function-level imports too), by absolute
    name; relative imports are resolved against ``package`` (the importing module's package)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, *([base] if base else [])])
            yield base
            # ``from tests import test_x`` imports the module tests.test_x
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _package_of(path: Path) -> str:
    return ".".join(path.relative_to(REPO).parent.parts)


def _imports(path: Path) -> set[str]:
    return set(imported_modules(path.read_text(encoding="utf-8"), _package_of(path)))


def _sources(*tops: str) -> list[Path]:
    return sorted(p for top in tops for p in (REPO / top).rglob("*.py"))


def _is_tests(module: str) -> bool:
    return module == "tests" or module.startswith("tests.")


def _is_test_module(module: str) -> bool:
    """``tests.<...>.test_x`` or ``tests.<...>.conftest`` (its helpers moved to testkit), or a
    name in one of them."""
    parts = module.split(".")
    return parts[0] == "tests" and any(p.startswith("test_") or p == "conftest" for p in parts)


@pytest.mark.parametrize("top", ["bench", "testkit"])
def test_bench_and_testkit_never_import_tests(top: str) -> None:
    sources = _sources(top)
    assert sources, f"no Python files under {top}/"
    offenders = {
        str(path.relative_to(REPO)): sorted(filter(_is_tests, _imports(path))) for path in sources
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_no_test_module_imports_another_test_module() -> None:
    sources = _sources("tests")
    assert len([p for p in sources if p.name.startswith("test_")]) > 40
    offenders = {
        str(path.relative_to(REPO)): sorted(filter(_is_test_module, _imports(path)))
        for path in sources
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_app_packages_never_import_testkit_or_tests() -> None:
    def test_code(module: str) -> bool:
        return _is_tests(module) or module == "testkit" or module.startswith("testkit.")

    offenders = {
        str(path.relative_to(REPO)): sorted(filter(test_code, _imports(path)))
        for path in _sources(*APP_PACKAGES)
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_testkit_is_not_installed_with_the_app() -> None:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    include = config["options.packages.find"]["include"].split()
    assert sorted(include) == sorted(f"{name}*" for name in APP_PACKAGES)


def test_the_checks_can_fail() -> None:
    source = (
        "import tests.test_a\n"
        "from tests.conftest import REPO\n"
        "def f():\n"
        "    from tests import test_b\n"
        "    from . import test_c\n"
        "    from ..firmware.test_d import x\n"
    )
    found = set(imported_modules(source, "tests.camera_app"))
    assert {"tests.test_a", "tests.conftest", "tests.test_b", "tests.camera_app.test_c"} <= found
    assert "tests.firmware.test_d" in found
    assert all(_is_test_module(m) for m in found - {"tests", "tests.camera_app", "tests.firmware"})
    assert not _is_test_module("testkit.api") and not _is_tests("testkit")
