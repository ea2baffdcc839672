"""Piper's VITS model made to draw its noise from a seed.

A Piper voice samples Gaussian noise inside its ONNX graph, in two ``RandomNormalLike`` nodes: one in the
stochastic duration predictor (how long each phoneme lasts, so the clip's length) and one in the prior (the
timbre). onnxruntime seeds each such kernel once, from the clock, when the session is made, and every run
draws on from there; ``onnxruntime.set_seed`` fixes the first draw but not the next, so a line's sound
depended on every line rendered before it in that process, and on which of two threads got there first.

:func:`seeded_graph` rewrites each of those nodes to read its values from a noise input instead (element
``i`` of the node's output is element ``i mod N`` of the input, reshaped to the node's shape), so the caller
draws the noise from its own seeded generator (:func:`noise_feeds`). The rest of the graph is unchanged, and
onnxruntime computes it the same way every time for a given thread count.

Rewriting takes about 0.4 s (reading and writing a 63 MB protobuf, after importing ``onnx``) in every process
that speaks, so :func:`seeded_model` keeps the rewritten model in the cache folder: the same bytes, loaded by
onnxruntime from a file.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

__all__ = ["NOISE_PREFIX", "NOISE_SIZE", "noise_feeds", "seeded_graph", "seeded_model"]

#: Name prefix of the noise inputs added to the graph.
NOISE_PREFIX = "storyaudio_noise_"
#: Values fed per noise input (1 MiB): enough for 1,365 frames of a 192-channel prior (about 16 s of speech at
#: 22.05 kHz) before the values repeat; sentences are split well below that.
NOISE_SIZE = 1 << 18


def seeded_graph(model_path: str | Path) -> tuple[bytes, list[str]]:
    """The ONNX model at ``model_path`` with every ``RandomNormalLike`` node fed from a new graph input, as
    serialised bytes for ``onnxruntime.InferenceSession``, and the names of those inputs (empty when the
    model draws no noise)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(model_path))
    graph = model.graph
    nodes: list = []
    names: list[str] = []
    zero, one = f"{NOISE_PREFIX}zero", f"{NOISE_PREFIX}one"
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        name = f"{NOISE_PREFIX}{len(names)}"
        names.append(name)
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["noise_values"]))
        x, p = node.input[0], f"{name}_"
        nodes += [
            helper.make_node("Size", [x], [p + "count"]),
            helper.make_node("Range", [zero, p + "count", one], [p + "index"]),
            helper.make_node("Size", [name], [p + "size"]),
            helper.make_node("Mod", [p + "index", p + "size"], [p + "wrapped"]),
            helper.make_node("Gather", [name, p + "wrapped"], [p + "flat"], axis=0),
            helper.make_node("Shape", [x], [p + "shape"]),
        ]
        out = p + "normal"
        nodes.append(helper.make_node("Reshape", [p + "flat", p + "shape"], [out]))
        scale, mean = float(attrs.get("scale", 1.0)), float(attrs.get("mean", 0.0))
        if scale != 1.0 or mean != 0.0:
            graph.initializer.extend([helper.make_tensor(p + "scale", TensorProto.FLOAT, [], [scale]),
                                      helper.make_tensor(p + "mean", TensorProto.FLOAT, [], [mean])])
            nodes += [helper.make_node("Mul", [out, p + "scale"], [p + "scaled"]),
                      helper.make_node("Add", [p + "scaled", p + "mean"], [p + "shifted"])]
            out = p + "shifted"
        dtype = int(attrs.get("dtype", TensorProto.FLOAT))
        if dtype != TensorProto.FLOAT:
            nodes.append(helper.make_node("Cast", [out], [p + "cast"], to=dtype))
            out = p + "cast"
        nodes.append(helper.make_node("Identity", [out], [node.output[0]]))
    if names:
        graph.initializer.extend([helper.make_tensor(zero, TensorProto.INT64, [], [0]),
                                  helper.make_tensor(one, TensorProto.INT64, [], [1])])
        del graph.node[:]
        graph.node.extend(nodes)
    return model.SerializeToString(), names


def seeded_model(model_path: str | Path, folder: Path | None = None) -> str | bytes:
    """:func:`seeded_graph` of ``model_path`` as a file in ``folder`` (default: ``models/`` in the cache
    folder, :func:`storyaudio.paths.cache_dir`), made there the first time: its path, for
    ``onnxruntime.InferenceSession``. The file's name is a digest of what makes its bytes (the model file's
    path, size and modification time, this module's source and the ``onnx`` version that writes it),
    and it appears whole or not at all. Where the folder cannot be written, the bytes themselves."""
    from importlib.metadata import version

    from ...paths import cache_dir

    model = Path(model_path).resolve()
    st = model.stat()
    what = "|".join([str(model), str(st.st_size), str(st.st_mtime_ns), Path(__file__).read_text("utf-8"),
                     version("onnx")])
    folder = Path(folder) if folder is not None else cache_dir() / "models"
    path = folder / f"{model.stem}.seeded-{hashlib.sha256(what.encode()).hexdigest()[:20]}.onnx"
    if path.is_file():
        return str(path)
    graph, _ = seeded_graph(model)
    part = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.part")  # one writer each
    try:
        folder.mkdir(parents=True, exist_ok=True)
        part.write_bytes(graph)
        os.replace(part, path)
    except OSError:
        part.unlink(missing_ok=True)
        return graph
    return str(path)


def noise_feeds(names: list[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Standard normal values for each noise input, drawn from ``rng`` in the order of ``names``."""
    return {name: rng.standard_normal(NOISE_SIZE, dtype=np.float32) for name in names}
