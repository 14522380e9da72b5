"""The layers of ARCHITECTURE §2a, checked on every module's imports: nothing imports a layer above its
own, platforms never import one another, the product never imports the sandbox (only cli.py starts it),
emulators import only the sandbox, and only defs/ (with definitions.py and cli.py) imports Dagster.

From the bottom up (a module may import its own layer and any below it):
"""

from __future__ import annotations

import ast
from pathlib import Path

import bridge_assets

PACKAGE = Path(bridge_assets.__file__).parent

ORDER = ["model", "runtime", "destinations.base", "destinations.kit", "canonical", "sources", "destinations.platform",
         "destinations.registry", "ledger", "books", "alerts", "commands", "defs", "definitions", "company_locations", "cli"]
DAGSTER_ALLOWED = {"defs", "definitions", "cli"}


def _layer(parts: list[str]) -> tuple[str, str]:
    """(layer, unit): the unit is the platform or emulator package for destinations and the sandbox."""
    if len(parts) < 2:
        return "package", "package"
    top = parts[1]
    if top == "destinations":
        second = parts[2] if len(parts) > 2 else "__init__"
        if second in ("base", "__init__"):
            return "destinations.base", "base"
        if second in ("kit", "registry"):
            return f"destinations.{second}", second
        return "destinations.platform", second
    if top == "sandbox":
        return "sandbox", (parts[2] if len(parts) > 2 else "__init__")
    return top, top


def _parse(path: Path) -> ast.Module:
    """ast.parse, tried again on CPython 3.11's "AST constructor recursion depth mismatch": its AST
    validator's depth counter is not thread-safe, and a pytest worker may run emulator threads that parse too."""
    for attempt in range(3):
        try:
            return ast.parse(path.read_text())
        except SystemError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = _parse(path)
    module_parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module_parts[: len(module_parts) - node.level + (path.name == "__init__.py")]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, list(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def test_no_import_runs_up_the_layers_and_platforms_do_not_import_one_another():
    wrong = []
    for path, parts in _modules():
        layer, unit = _layer(parts)
        if layer in ("sandbox", "package"):
            continue
        for lineno, name in _imports(path):
            if not name.startswith("bridge_assets."):
                continue
            target, target_unit = _layer(name.split("."))
            where = f"{path.relative_to(PACKAGE.parent)}:{lineno} imports {name}"
            if target == "sandbox":
                if layer != "cli":
                    wrong.append(f"{where} (only cli.py starts the sandbox)")
            elif target == "package":
                continue
            elif ORDER.index(target) > ORDER.index(layer):
                wrong.append(f"{where} ({layer} is below {target})")
            elif target == layer == "destinations.platform" and target_unit != unit:
                wrong.append(f"{where} (platforms do not import one another)")
    assert wrong == []


def test_emulators_import_only_the_sandbox():
    wrong = [f"{path.relative_to(PACKAGE.parent)}:{lineno} imports {name}"
             for path, parts in _modules() if _layer(parts)[0] == "sandbox"
             for lineno, name in _imports(path)
             if name.startswith("bridge_assets.") and _layer(name.split("."))[0] != "sandbox"]
    assert wrong == []


def test_only_defs_definitions_and_cli_import_dagster():
    wrong = [f"{path.relative_to(PACKAGE.parent)}:{lineno} imports {name}"
             for path, parts in _modules() if _layer(parts)[0] not in DAGSTER_ALLOWED
             for lineno, name in _imports(path) if name.split(".")[0] in ("dagster", "dagster_duckdb", "dagster_webserver")]
    assert wrong == []
