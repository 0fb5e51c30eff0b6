"""Exact algebraic folding of the element-wise ops PP-LCNetV3 exports with.

PP-OCRv5's mobile recogniser (and detector) is built from PP-LCNetV3 blocks
whose every convolution is followed by a "learnable affine block" (a scalar
multiply and add), then hard-swish, then another affine block.  Exported to
ONNX these are separate ``Mul``/``Add`` nodes over whole feature maps, and
onnxruntime runs each as its own pass over memory: a large share of the
recogniser's time, against the convolutions' own.

:func:`fold` rewrites the graph so the arithmetic moves into convolution
weights and biases, where it costs nothing at inference:

* ``Identity`` nodes are dropped (they hide the patterns below);
* ``Conv -> Mul/Add(constant per channel or scalar)`` becomes the convolution
  with scaled weights / shifted bias;
* ``Add(Mul(x, a), b) -> Conv...`` (scalars ``a != 0``, ``b``; every consumer a
  convolution): into an unpadded convolution exactly (``W' = aW``,
  ``bias' = bias + b * sum(W)``); into a zero-padded one as
  ``Conv_{aW}(x + b/a)``, since a scale commutes with zero padding and a
  shift does not (one ``Add`` instead of two passes).

Every rewrite is exact up to float rounding: the folded model's outputs match
the original's to ~1e-4 (``tests/test_onnx_fold.py``).  The int8 rewrites,
which are not exact, are in :mod:`.onnx_quant`; ``Graph`` serves both.

A build tool: :mod:`.build` applies it when the model files that ship with
ocrbeam are made, never on a worker.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np


class Graph:
    """The model's nodes and constants as plain Python values while rewriting."""

    def __init__(self, model: Any):
        from onnx import numpy_helper

        graph = model.graph
        self.consts: dict[str, np.ndarray] = {
            init.name: numpy_helper.to_array(init) for init in graph.initializer
        }
        self.nodes: list = []
        for node in graph.node:
            if node.op_type == "Constant" and node.attribute[0].name == "value":
                self.consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
            else:
                self.nodes.append(node)
        self.outputs = {out.name for out in graph.output}
        self._uid = 0

    def name(self, base: str) -> str:
        self._uid += 1
        return f"{base}__fold{self._uid}"

    def constant(self, base: str, value: np.ndarray) -> str:
        name = self.name(base)
        self.consts[name] = value
        return name

    def maps(self) -> tuple[dict, dict]:
        producer = {out: node for node in self.nodes for out in node.output}
        consumers: dict[str, list] = collections.defaultdict(list)
        for node in self.nodes:
            for name in node.input:
                consumers[name].append(node)
        return producer, consumers

    def rename_input(self, old: str, new: str) -> None:
        for node in self.nodes:
            for i, name in enumerate(node.input):
                if name == old:
                    node.input[i] = new

    def write_back(self, model: Any) -> None:
        """Put the rewritten nodes, and the constants they still read, back
        into ``model`` (Constant nodes come back as initializers)."""
        from onnx import numpy_helper

        graph = model.graph
        used = {name for node in self.nodes for name in node.input} | self.outputs
        # Shapes of the tensors that went away are stale; the others stay
        # (onnxruntime plans the int8 recogniser differently without them).
        produced = {name for node in self.nodes for name in node.output}
        shapes = [info for info in graph.value_info if info.name in produced]
        del graph.value_info[:]
        graph.value_info.extend(shapes)
        del graph.node[:]
        graph.node.extend(self.nodes)
        del graph.initializer[:]
        graph.initializer.extend(
            numpy_helper.from_array(value, name)
            for name, value in self.consts.items()
            if name in used
        )

    def constant_operand(self, node) -> tuple[str | None, np.ndarray | None]:
        """``(tensor input, constant input)`` of a binary op, or (None, None)."""
        first, second = node.input
        if second in self.consts and first not in self.consts:
            return first, self.consts[second]
        if first in self.consts and second not in self.consts:
            return second, self.consts[first]
        return None, None

    def conv_params(self, conv) -> tuple[np.ndarray, np.ndarray]:
        weight = self.consts[conv.input[1]]
        if len(conv.input) > 2 and conv.input[2]:
            return weight, self.consts[conv.input[2]]
        return weight, np.zeros(weight.shape[0], np.float32)

    def set_conv_params(self, conv, weight: np.ndarray, bias: np.ndarray) -> None:
        inputs = [
            conv.input[0],
            self.constant(conv.input[1], weight.astype(np.float32)),
            self.constant(f"{conv.name}_bias", bias.astype(np.float32)),
        ]
        del conv.input[:]
        conv.input.extend(inputs)


def node_attribute(node, name: str, default=None):
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def scalar_value(value: np.ndarray | None) -> float | None:
    return (
        float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None
    )


def _per_channel(value: np.ndarray, channels: int) -> np.ndarray | None:
    """A constant that broadcasts over NCHW as one value per channel."""
    flat = value.reshape(-1)
    if flat.size == 1:
        return np.full(channels, flat[0], np.float32)
    if flat.size == channels and value.ndim >= 3 and value.shape[-2:] == (1, 1):
        return flat.astype(np.float32)
    return None


def _fold_into_conv(g: Graph, node, producer, consumers) -> bool:
    """``Conv -> Mul/Add(constant per channel)``: into the conv's parameters."""
    if node.op_type not in ("Mul", "Add"):
        return False
    x, value = g.constant_operand(node)
    conv = producer.get(x) if x else None
    if (
        conv is None
        or conv.op_type != "Conv"
        or len(consumers[x]) != 1
        or x in g.outputs
    ):
        return False
    weight, bias = g.conv_params(conv)
    per_channel = _per_channel(value, weight.shape[0])
    if per_channel is None:
        return False
    if node.op_type == "Mul":
        weight, bias = weight * per_channel.reshape(-1, 1, 1, 1), bias * per_channel
    else:
        bias = bias + per_channel
    g.set_conv_params(conv, weight, bias)
    conv.output[0] = node.output[0]
    g.nodes.remove(node)
    return True


def _fold_affine_forward(g: Graph, node, consumers) -> bool:
    """``Add(Mul(x, a), b)`` whose every consumer is a Conv: into those convs."""
    if node.op_type != "Mul":
        return False
    x, value = g.constant_operand(node)
    scale = scalar_value(value)
    if x is None or not scale:
        return False
    shift, last = 0.0, node
    users = consumers[node.output[0]]
    if (
        len(users) == 1
        and users[0].op_type == "Add"
        and node.output[0] not in g.outputs
    ):
        _, shift_value = g.constant_operand(users[0])
        if scalar_value(shift_value) is not None:
            shift, last = scalar_value(shift_value), users[0]
    out = last.output[0]
    convs = consumers[out]
    if (
        out in g.outputs
        or not convs
        or any(
            conv.op_type != "Conv"
            or conv.input[0] != out
            or node_attribute(conv, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")
            for conv in convs
        )
    ):
        return False
    shifted = None  # x + b/a, made once for every zero-padded consumer
    for conv in convs:
        weight, bias = g.conv_params(conv)
        if any(node_attribute(conv, "pads", ())):
            if shifted is None:
                shifted = x
                if shift:
                    shifted = g.name(f"{x}_shift")
                    offset = g.constant("shift", np.array(shift / scale, np.float32))
                    add = _make_node("Add", [x, offset], [shifted], g.name("add"))
                    g.nodes.insert(g.nodes.index(last), add)
            g.set_conv_params(conv, weight * scale, bias)
            conv.input[0] = shifted
        else:
            g.set_conv_params(
                conv, weight * scale, bias + shift * weight.sum(axis=(1, 2, 3))
            )
            conv.input[0] = x
    g.nodes.remove(node)
    if last is not node:
        g.nodes.remove(last)
    return True


def _make_node(op: str, inputs: list[str], outputs: list[str], name: str):
    from onnx import helper

    return helper.make_node(op, inputs, outputs, name=name)


def fold(model: Any) -> tuple[Any, dict[str, int]]:
    """Fold a model's affine element-wise ops into its convolutions, in place.

    Returns:
        ``(model, counts)``: the same ``onnx.ModelProto``, rewritten, and how
        many nodes each rule removed or folded.
    """
    g = Graph(model)
    counts: collections.Counter = collections.Counter()
    for node in [n for n in g.nodes if n.op_type == "Identity"]:
        if node.output[0] not in g.outputs:
            g.nodes.remove(node)
            g.rename_input(node.output[0], node.input[0])
            counts["identity"] += 1
    changed = True
    while changed:
        changed = False
        producer, consumers = g.maps()
        for node in g.nodes:
            if _fold_into_conv(g, node, producer, consumers):
                counts[f"conv_{node.op_type.lower()}"] += 1
            elif _fold_affine_forward(g, node, consumers):
                counts["affine_into_conv"] += 1
            else:
                continue
            changed = True
            break
    g.write_back(model)
    return model, dict(counts)
