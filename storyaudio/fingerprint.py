"""A fingerprint of the code a backend runs, for the clip cache key.

A clip depends on the backend's own module and on every module it imports from its package and from
storyaudio (text normalisation, resampling, foley's DSP...). The fingerprint hashes the source of all of them,
found by reading the import statements (lazy imports inside functions included), so a change anywhere in that
code renders afresh, with no hand-kept version to bump. Nothing is imported to compute it.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path


def _spec_file(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _imported(module: str, path: Path, roots: frozenset[str]) -> set[str]:
    """Modules under ``roots`` that ``module``'s source imports (absolute and relative, at any depth)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return set()
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # "from pkg import name": name may be a submodule or an attribute; keep whichever exists
            names = [prefix] + [f"{prefix}.{a.name}" for a in node.names if a.name != "*"]
        else:
            continue
        for name in names:
            if name.split(".")[0] in roots:
                found.add(name)
    return found


def module_closure(module: str, roots: tuple[str, ...] = ()) -> dict[str, Path]:
    """``module`` and every module it imports, transitively, within its own top-level package and
    storyaudio (plus ``roots``): name -> source file. Parent packages' ``__init__`` files count too, since
    importing a submodule runs them."""
    top = frozenset({module.split(".")[0], "storyaudio", *roots})
    out: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in out:
            continue
        path = _spec_file(name)
        if path is None:
            continue
        out[name] = path
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += sorted(_imported(name, path, top) - set(out))
    return out


@lru_cache(maxsize=64)
def code_fingerprint(module: str) -> str:
    """SHA-256 (hex, 20 characters) over the names and sources of :func:`module_closure`."""
    h = hashlib.sha256()
    for name, path in sorted(module_closure(module).items()):
        h.update(name.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:20]
