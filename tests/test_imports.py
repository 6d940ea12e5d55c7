"""The arrows of DESIGN.md's layout, read from the source with ``ast``.

Cells know no time, layers know no training, the reference knows no torch, saving and
training checkpoints know nothing of each other (both use ``rnnkit.io``), and rnnkit's
subpackages import one another without a cycle.  Every import statement counts, including
one inside a function; ``import rnnkit as rk`` counts as an import of the module behind
each ``rk.Name`` the file uses (``rnnkit/__init__.py`` only re-exports).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from functools import cache
from pathlib import Path

import rnnkit

ROOT = Path(rnnkit.__file__).parent

# Imports that point upward, each with why it is still here; the cycle test ignores them
# and fails once one is gone, so the list only shrinks.
KNOWN_BACK_EDGES: dict[tuple[str, str], str] = {}


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {_name(p): p for p in sorted(ROOT.rglob("*.py"))}


@cache
def _facade() -> dict[str, str]:
    """Each name ``rnnkit/__init__.py`` re-exports -> the module it comes from."""
    names = {}
    for node in ast.parse((ROOT / "__init__.py").read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            for alias in node.names:
                sub = f"rnnkit.{node.module}.{alias.name}" if node.module else \
                    f"rnnkit.{alias.name}"
                names[alias.asname or alias.name] = sub if sub in _modules() else \
                    f"rnnkit.{node.module}"
    return names


def _resolve(name: str, where: str) -> str:
    """The rnnkit module behind ``name`` (a module, or a name defined in one)."""
    if name in _modules():
        return name
    parent, _, attr = name.rpartition(".")
    if parent == "rnnkit":
        assert attr in _facade(), f"{where}: rnnkit.{attr} is not re-exported by rnnkit"
        return _facade()[attr]
    assert parent in _modules(), f"{where}: no module {parent} in rnnkit"
    return parent


@cache
def imports(module: str) -> frozenset[str]:
    """Every rnnkit module ``module`` imports, anywhere in its file."""
    path = _modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found, aliases = set(), set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "rnnkit":
                    aliases.add(alias.asname or "rnnkit")
                elif alias.name.startswith("rnnkit."):
                    found.add(_resolve(alias.name, module))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                head = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(head + ([node.module] if node.module else []))
            if base == "rnnkit" or base.startswith("rnnkit."):
                for alias in node.names:
                    found.add(_resolve(f"{base}.{alias.name}", module))
    for node in ast.walk(tree):                  # rk.Name, for each `import rnnkit as rk`
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in aliases:
            found.add(_resolve(f"rnnkit.{node.attr}", module))
    found.discard(module)
    return frozenset(found)


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _group(module: str) -> str:
    """Subpackage or top-level module: rnnkit.layers.recurrent -> rnnkit.layers."""
    return ".".join(module.split(".")[:2])


def _inside(package: str) -> list[str]:
    return [m for m in _modules() if _under(m, package)]


def test_the_import_reader_sees_imports_inside_functions_and_through_rk():
    assert {"rnnkit.training", "rnnkit.layers.sequential"} <= imports("rnnkit.model")
    # cpp_step imports layers inside plan(); interop/keras.py uses rk.Sequential, rk.Dense
    assert "rnnkit.layers" in imports("rnnkit.training.cpp_step")
    assert {"rnnkit.model", "rnnkit.layers"} <= imports("rnnkit.interop.keras")


def test_layers_never_import_training_or_saving():
    bad = {m: sorted(t for t in imports(m) if _under(t, "rnnkit.training")
                     or _under(t, "rnnkit.saving"))
           for m in _inside("rnnkit.layers")}
    bad = {m: t for m, t in bad.items() if t}
    assert not bad, f"layers know no training, but: {bad}"


def test_cells_import_only_the_leaves_below_them():
    allowed = ("rnnkit.cells", "rnnkit.registry", "rnnkit.types", "rnnkit._checks")
    bad = {m: sorted(t for t in imports(m) if not any(_under(t, a) for a in allowed))
           for m in _inside("rnnkit.cells")}
    bad = {m: t for m, t in bad.items() if t}
    assert not bad, f"cells know no time, layers or training, but: {bad}"


def test_the_reference_knows_no_torch():
    for module in _inside("rnnkit.reference"):
        tree = ast.parse(_modules()[module].read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree)
                  if isinstance(n, ast.ImportFrom) and not n.level]
        assert not [n for n in names if n == "torch" or n.startswith("torch.")], module
        outside = [t for t in imports(module) if not _under(t, "rnnkit.reference")]
        assert not outside, f"{module} imports {outside}, which may bring torch"


def test_saving_and_checkpoints_share_io_and_not_each_other():
    saving, checkpoint = "rnnkit.saving", "rnnkit.training.checkpoint"
    upward = sorted(t for t in imports(saving) if _under(t, "rnnkit.training"))
    assert not upward, f"{saving} imports {upward}"
    assert saving not in imports(checkpoint), f"{checkpoint} imports {saving}"
    assert "rnnkit.io" in imports(saving) and "rnnkit.io" in imports(checkpoint)
    assert not [t for t in imports("rnnkit.io")], "rnnkit.io is a leaf"
    for module in (saving, checkpoint):       # public names only, from any rnnkit module
        tree = ast.parse(_modules()[module].read_text())
        private = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                   for a in n.names if a.name.startswith("_")]
        assert not private, f"{module} imports private names {private}"


def _graph() -> dict[str, set[str]]:
    """Subpackages and top-level modules; the facade rnnkit/__init__.py is left out."""
    graph: dict[str, set[str]] = defaultdict(set)
    for module in _modules():
        if module == "rnnkit":
            continue
        for target in imports(module):
            a, b = _group(module), _group(target)
            if a != b and b != "rnnkit" and (a, b) not in KNOWN_BACK_EDGES:
                graph[a].add(b)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while not part or part[-1] != v:
                part.append(stack.pop())
                on.discard(part[-1])
            if len(part) > 1:
                out.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_between_subpackages():
    graph = _graph()
    cycles = _cycles(graph)
    detail = {tuple(c): {a: sorted(graph[a] & set(c)) for a in c} for c in cycles}
    assert not cycles, f"import cycles (module -> the modules of its cycle it imports): {detail}"


def test_known_back_edges_still_exist():
    for (a, b), why in KNOWN_BACK_EDGES.items():
        assert any(_group(t) == b for m in _inside(a) for t in imports(m)), \
            f"{a} -> {b} is gone: delete it from KNOWN_BACK_EDGES ({why})"


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
