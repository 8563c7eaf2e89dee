"""The seams the design keeps, read off the source: optimizers know parameters and closures only; config,
build and the trainer read phase declarations, never optimizer names; no private attributes of other
objects; nothing inside the package imports the package itself."""
import ast
from pathlib import Path

import pytest

from pinnkit.optim import PHASES

PACKAGE = Path(__file__).resolve().parents[1] / "pinnkit"
MODULES = sorted(PACKAGE.rglob("*.py"))


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def imported(path: Path) -> set[str]:
    """Dotted names of the pinnkit modules a file imports (relative imports resolved)."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found |= {module} if node.module else {f"{module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {name for name in found if name.split(".")[0] == "pinnkit"}


@pytest.mark.parametrize("path", sorted((PACKAGE / "optim").glob("*.py")), ids=lambda p: p.name)
def test_optimizers_import_nothing_of_pinnkit_outside_optim(path):
    assert {m for m in imported(path) if not m.startswith("pinnkit.optim")} == set()


@pytest.mark.parametrize("name", ["config.py", "build.py", "train.py"])
def test_config_build_and_trainer_name_no_optimizer_and_look_up_no_capability(name):
    module = tree(PACKAGE / name)
    strings = {n.value for n in ast.walk(module) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert strings & set(PHASES) == set()
    lookups = [ast.unparse(n) for n in ast.walk(module) if isinstance(n, ast.Call)
               and isinstance(n.func, ast.Name) and n.func.id in ("getattr", "hasattr")]
    assert [call for call in lookups if "PHASES" in call or "phase" in call.lower()] == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_the_package_itself(path):
    modules = {p.relative_to(PACKAGE.parent).with_suffix("").as_posix().replace("/", ".") for p in MODULES}
    packages = {m.removesuffix(".__init__") for m in modules}
    assert {m for m in imported(path) if m not in modules | packages and m.rsplit(".", 1)[0] in packages} == set()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_attribute_of_another_object_is_read(path):
    private = [ast.unparse(n) for n in ast.walk(tree(path)) if isinstance(n, ast.Attribute)
               and n.attr.startswith("_") and not n.attr.startswith("__")
               and not (isinstance(n.value, ast.Name) and n.value.id in ("self", "cls"))
               and not (isinstance(n.value, ast.Call) and ast.unparse(n.value.func) == "super")]
    assert private == []
