"""The package's layout is what docs/architecture.md says: three layers, no cycles.

The import graph is read from the source with `ast` (every `import` and `from ... import`,
also those inside functions, except under `if TYPE_CHECKING:`), so a lazy import counts
as a dependency too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

PACKAGE = Path(str(resources.files("recsys")))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skipped


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The modules of the package (and outside names, as given) that `path` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            found.add(base)
            # `from recsys.data import hours` imports the module recsys.data.hours
            found.update(f"{base}.{alias.name}" for alias in node.names)
    inside = {name for name in found if name in modules}
    outside = {name.split(".")[0] for name in found if not name.startswith("recsys")}
    return inside | outside


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(p) for p in files}
    return {_module_name(p): _imports(p, modules) - {_module_name(p)} for p in files}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among the package's modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph without `__init__` parents: importing a.b.c also imports a.b (empty)."""
    return {m: {n for n in deps if n.startswith("recsys")} for m, deps in graph.items()}


def test_no_import_cycle_inside_the_package(graph) -> None:
    cycle = _cycle(_package_edges(graph))
    assert cycle is None, " -> ".join(cycle or ())
    # The graph is really read: the cold-start module sits on the serving layer.
    assert {"recsys.serving.index", "recsys.serving.recommend"} <= graph["recsys.coldstart"]


def test_cycle_finder_finds_a_planted_cycle() -> None:
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(planted) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("data", {"torch", "redis", "redisvl", "streamlit", "recsys.model", "recsys.serving"}),
        ("model", {"redis", "redisvl", "streamlit", "recsys.serving"}),
        ("serving", {"torch", "streamlit", "recsys.model", "recsys.coldstart"}),
    ],
)
def test_each_layer_imports_only_what_is_below_it(graph, layer: str, forbidden: set[str]) -> None:
    wrong = {
        (module, dep)
        for module, deps in graph.items()
        if module.startswith(f"recsys.{layer}")
        for dep in deps
        if any(dep == f or dep.startswith(f + ".") for f in forbidden)
    }
    assert not wrong, sorted(wrong)


def test_no_module_of_the_package_imports_streamlit(graph) -> None:
    assert not [m for m, deps in graph.items() if "streamlit" in deps]


def test_serving_imports_neither_torch_nor_streamlit_at_run_time() -> None:
    """Importing every serving module in a fresh interpreter loads neither."""
    modules = sorted(m for m in _all_modules() if m.startswith("recsys.serving"))
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted({'torch', 'streamlit'} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def _all_modules() -> list[str]:
    return [_module_name(p) for p in sorted(PACKAGE.rglob("*.py"))]


def test_every_docs_reference_points_at_a_file_of_the_repository() -> None:
    import re

    root = PACKAGE.parent
    sources = [
        p for d in ("recsys", "ui", "pages", "tests", "scripts") for p in (root / d).rglob("*.py")
    ]
    named = {
        (path.relative_to(root), ref)
        for path in [*sources, root / "app.py", root / "README.md"]
        for ref in re.findall(r"docs/[\w./-]+\.(?:md|png)", path.read_text(encoding="utf-8"))
    }
    assert named  # the scan finds references at all
    missing = sorted((str(path), ref) for path, ref in named if not (root / ref).exists())
    assert not missing, missing


def test_lint_checks_every_source_file():
    """`make lint` sees every module: ruff's exclusions (the git-ignored `data/`
    directory, the virtualenv) must not also match a package such as `recsys/data`."""
    root = PACKAGE.parent
    listed = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--show-files", "."],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    seen = {Path(line.strip()).resolve() for line in listed.splitlines() if line.strip()}
    sources = [
        p.resolve()
        for d in ("recsys", "ui", "pages", "tests", "scripts")
        for p in (root / d).rglob("*.py")
    ]
    missing = sorted(str(p.relative_to(root)) for p in sources if p not in seen)
    assert sources and not missing, f"ruff does not check {missing[:5]}"
