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
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["NOISE_PREFIX", "NOISE_SIZE", "noise_feeds", "seeded_graph"]

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


def noise_feeds(names: list[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Standard normal values for each noise input, drawn from ``rng`` in the order of ``names``."""
    return {name: rng.standard_normal(NOISE_SIZE, dtype=np.float32) for name in names}
