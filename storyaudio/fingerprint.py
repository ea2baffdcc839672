"""A fingerprint of the code a backend runs, for the clip cache key.

A clip depends on the backend's own module and on every module it imports from its package and from
storyaudio (text normalisation, resampling, foley's DSP...). The fingerprint hashes the source of all of them,
found by reading the import statements (lazy imports inside functions included), so a change anywhere in that
code renders afresh, with no hand-kept version to bump.

Nothing is imported to compute it: source files are found by walking the packages' folders (``find_spec`` of
a submodule would import its parent packages: for foley, scipy.signal), and what each file imports is kept in a
small memo beside the clip cache, keyed by the file's path, size and modification time, so a render that
starts a fresh process reads the files and parses none that did not change.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import sys
import threading
from functools import lru_cache
from pathlib import Path


def _spec_file(module: str) -> Path | None:
    """The source file of ``module`` without importing anything: the top-level package's spec (a top-level
    ``find_spec`` imports nothing), then down its folders part by part."""
    parts = module.split(".")
    top = sys.modules.get(parts[0])
    try:
        spec = getattr(top, "__spec__", None) or importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if len(parts) == 1:
        return Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
    folders = list(spec.submodule_search_locations or [])
    for i, part in enumerate(parts[1:], start=1):
        last = i == len(parts) - 1
        found: list[str] = []
        for folder in folders:
            package, plain = os.path.join(folder, part, "__init__.py"), os.path.join(folder, part + ".py")
            if os.path.isfile(package):
                if last:
                    return Path(package)
                found = [os.path.join(folder, part)]
                break
            if os.path.isfile(plain):
                return Path(plain) if last else None  # a module has no submodules
            if os.path.isdir(os.path.join(folder, part)):  # a namespace package
                found.append(os.path.join(folder, part))
        if not found:
            return None
        folders = found
    return None  # a namespace package: no source of its own


def _imported(module: str, path: Path, roots: frozenset[str]) -> set[str]:
    """Modules under ``roots`` that ``module``'s source imports (absolute and relative, at any depth)."""
    return {name for name in _imports_of(module, path) if name.split(".")[0] in roots}


def _imports_of(module: str, path: Path) -> list[str]:
    """Every module name ``module``'s source imports (absolute and relative, at any depth; for ``from a import
    b`` both ``a`` and ``a.b``), through the memo (:class:`_Memo`)."""
    try:
        st = path.stat()
    except OSError:
        return []
    stamp = [st.st_size, st.st_mtime_ns]
    key = f"{module}|{path}"
    hit = _MEMO.get(key, stamp)
    if hit is not None:
        return hit
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return []
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
        found.update(n for n in names if n)
    out = sorted(found)
    _MEMO.put(key, stamp, out)
    return out


class _Memo:
    """What each source file imports, by ``module|path`` and stamped with the file's size and modification
    time, kept in ``imports.json`` in the clip cache folder (``$STORYAUDIO_CACHE_DIR``); loaded once per
    process, written back when it learned something. A missing or unwritable folder just means parsing."""

    def __init__(self) -> None:
        self._data: dict[str, list] | None = None
        self._dirty = False
        self._lock = threading.Lock()
        self._path: Path | None = None

    def _file(self) -> Path | None:
        try:
            from .paths import cache_dir

            return cache_dir() / "_code" / "imports.json"
        except Exception:  # noqa: BLE001 - no cache folder: no memo
            return None

    def _load(self) -> dict[str, list]:
        if self._data is None:
            self._path = self._file()
            try:
                self._data = json.loads(self._path.read_text(encoding="utf-8")) if self._path else {}
            except (OSError, ValueError):
                self._data = {}
        return self._data

    def get(self, key: str, stamp: list) -> list[str] | None:
        with self._lock:
            entry = self._load().get(key)
        return entry[1] if isinstance(entry, list) and len(entry) == 2 and entry[0] == stamp else None

    def put(self, key: str, stamp: list, names: list[str]) -> None:
        with self._lock:
            self._load()[key] = [stamp, names]
            self._dirty = True

    def save(self) -> None:
        with self._lock:
            if not self._dirty or self._path is None or self._data is None:
                return
            self._dirty = False
            data = json.dumps(self._data, separators=(",", ":"))
        try:
            from .atomic import atomic_write_text

            atomic_write_text(self._path, data)
        except OSError:
            pass

    def reset(self) -> None:
        """Forget what was loaded (the cache folder may have changed: tests point it elsewhere)."""
        with self._lock:
            self._data, self._dirty, self._path = None, False, None


_MEMO = _Memo()


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
    closure = module_closure(module)
    _MEMO.save()
    for name, path in sorted(closure.items()):
        h.update(name.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:20]
