"""Nothing outside the worker agent imports it: the platform clients live in ``hounsfield.platform``."""

import ast
from pathlib import Path

import hounsfield

PACKAGE = Path(hounsfield.__file__).parent


def _package_of(path: Path) -> str:
    return ".".join(("hounsfield", *path.relative_to(PACKAGE).parent.parts))


def _imported_modules(source: str, package: str) -> list[tuple[int, str]]:
    """Absolute module names imported by `source` (relative imports resolved against `package`)."""
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return found


def test_no_module_outside_worker_imports_the_worker_agent() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] != "worker"
        for line, module in _imported_modules(path.read_text(encoding="utf-8"), _package_of(path))
        if module == "hounsfield.worker" or module.startswith("hounsfield.worker.")
    ]
    assert offenders == [], "move what these need into hounsfield.platform:\n" + "\n".join(offenders)


def test_the_check_sees_each_form_of_an_offending_import() -> None:
    source = (
        "import hounsfield.worker.agent\nfrom hounsfield.worker import settings\nfrom ..worker import app\n"
    )
    modules = {module for _, module in _imported_modules(source, "hounsfield.evaluation")}
    assert {"hounsfield.worker.agent", "hounsfield.worker.settings", "hounsfield.worker.app"} <= modules


def test_every_module_of_the_package_imports() -> None:
    # mypy ignores missing imports (third-party stubs), so a stale path inside the package would
    # only show at run time: importing every module here finds it.
    import importlib
    import pkgutil

    failures = []
    for module in pkgutil.walk_packages([str(PACKAGE)], "hounsfield."):
        if module.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(module.name)
        except Exception as error:  # noqa: BLE001 - every failure is listed
            failures.append(f"{module.name}: {error!r}")
    assert failures == []
