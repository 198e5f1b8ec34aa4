"""The dependency rules of design.md §4, checked on the source so they hold without anyone remembering them."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "src" / "smartcity"
# Files whose job is to know every module: the app, the CLI, the model registry, and demo data.
ASSEMBLERS = {"app.py", "cli.py", "models.py"}


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return [n for n in names if n.startswith("smartcity")]


def package_of(path: Path) -> str:
    return ".".join(("smartcity", *path.parent.relative_to(PACKAGE_ROOT).parts))


def source_files() -> list[Path]:
    return sorted(p for p in PACKAGE_ROOT.rglob("*.py") if p.name not in ASSEMBLERS or p.parent != PACKAGE_ROOT)


def test_sources_are_found() -> None:
    assert any(p.parts[-2:] == ("catalog", "service.py") for p in source_files())


def test_no_module_imports_another_modules_models() -> None:
    broken = []
    for path in source_files():
        own = package_of(path)
        for name in imports_of(path):
            parts = name.split(".")
            if "models" in parts:
                owner = ".".join(parts[: parts.index("models")])
                # A module's sub-packages (exchange.opendata) are the module: they may use its models.
                if owner != own and owner != "smartcity" and not own.startswith(owner + "."):
                    broken.append(f"{path.relative_to(PACKAGE_ROOT)} imports {name}")
    assert broken == []


def test_platform_knows_no_domain_module() -> None:
    domain = {p.name for p in PACKAGE_ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    domain -= {"platform"}
    broken = []
    for path in (PACKAGE_ROOT / "platform").rglob("*.py"):
        for name in imports_of(path):
            parts = name.split(".")
            if len(parts) > 1 and (parts[1] in domain or parts[1] in {"app", "cli"}):
                broken.append(f"{path.relative_to(PACKAGE_ROOT)} imports {name}")
    assert broken == []


def test_the_checks_can_fail(tmp_path: Path) -> None:
    offender = tmp_path / "offender.py"
    offender.write_text("from smartcity.catalog.models import CatalogEntry\nimport smartcity.web\n", encoding="utf-8")
    assert imports_of(offender) == [
        "smartcity.catalog.models",
        "smartcity.catalog.models.CatalogEntry",
        "smartcity.web",
    ]
