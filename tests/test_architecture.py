"""The import graph: no loops, and no module imports one of a layer above it (data flows one way: errors and
helpers -> script, records, mixing -> backends, plan, cache, extensions -> delivery, writer -> the pipeline
-> the commands and the studio). Read from the source (lazy imports inside functions count; imports only a
type checker runs do not), so it cannot rot."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "storyaudio"

#: Layers, lowest first; a module's layer is that of its longest listed prefix.
LAYERS = (
    ("storyaudio.errors", "storyaudio.seeds", "storyaudio.audio", "storyaudio.atomic", "storyaudio.fingerprint",
     "storyaudio.paths"),
    ("storyaudio.script", "storyaudio.backends.base", "storyaudio.timeline", "storyaudio.mix",
     "storyaudio.columns.base", "storyaudio.columns:"),  # "name:" = that module alone (the column registry)
    ("storyaudio.backends", "storyaudio.casting", "storyaudio.cache", "storyaudio.plan", "storyaudio.columns",
     "storyaudio.executors", "storyaudio.cluster"),
    ("storyaudio.deliver", "storyaudio.writer", "storyaudio.outdir", "storyaudio.reuse"),
    ("storyaudio.pipeline", "storyaudio.renders"),
    ("storyaudio.cli", "storyaudio.cli_clipsonic", "storyaudio.studio", "storyaudio.__main__"),
)


def _modules() -> dict[str, Path]:
    out = {}
    for p in PACKAGE.rglob("*.py"):
        parts = p.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    typing_only = {id(x) for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
                   for b in n.body for x in ast.walk(b)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            subs = [f"{prefix}.{a.name}" for a in node.names if f"{prefix}.{a.name}" in modules]
            names = subs if len(subs) == len(node.names) else [prefix, *subs]
        else:
            continue
        # a module's parent packages are loaded before it: importing one is no edge
        found |= {n for n in names if n in modules and n != name and not name.startswith(n + ".")}
    return found


def _layer(name: str) -> int:
    best = (-1, -1)
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            exact = prefix.endswith(":")
            if (name == prefix.rstrip(":")) or (not exact and name.startswith(prefix + ".")):
                if len(prefix) > best[1]:
                    best = (level, len(prefix))
    return best[0]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_every_module_has_a_layer():
    assert [m for m in _graph() if m != "storyaudio" and _layer(m) < 0] == []


def test_no_module_imports_a_layer_above_its_own():
    graph = _graph()
    up = sorted((m, d) for m, deps in graph.items() for d in deps if d != "storyaudio" and _layer(d) > _layer(m))
    assert up == []


def _loops(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}  # 1 on the path, 2 done
    loops: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                loops.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return loops


def test_the_import_graph_has_no_loops():
    assert _loops(_graph()) == []


def test_the_checker_sees_a_loop_and_an_upward_import(tmp_path, monkeypatch):
    """The checks above can fail: a package whose script module imports the pipeline breaks both."""
    pkg = tmp_path / "storyaudio"
    (pkg / "script").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "script" / "__init__.py").write_text("def f():\n    from ..pipeline import render\n")
    (pkg / "pipeline.py").write_text("from .script import f\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", pkg)
    graph = _graph()
    assert _loops(graph) == [["storyaudio.pipeline", "storyaudio.script", "storyaudio.pipeline"]]
    assert _layer("storyaudio.pipeline") > _layer("storyaudio.script")  # and script -> pipeline goes up
