"""Exact algebraic folding of the element-wise ops PP-LCNetV3 exports with,
and int8 quantisation of the recogniser's character classifier.

PP-OCRv5's mobile recogniser (and detector) is built from PP-LCNetV3 blocks
whose every convolution is followed by a "learnable affine block" (a scalar
multiply and add), then hard-swish, then another affine block.  Exported to
ONNX these are separate ``Mul``/``Add`` nodes over whole feature maps, and
onnxruntime runs each as its own pass over memory: 30% of the fp32
recogniser's time and more of the int8 one's, against the convolutions' own.

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
the original's to ~1e-4 (``tests/test_onnx_fold.py``).  :mod:`.weights` folds
the bundled detector and float recogniser once per machine as it assembles
their model folders; the bundled int8 recogniser was quantised from the
folded float one (``bench/int8_static.py``).

:func:`quantize_ctc_head` and :func:`quantize_hardswish` are the rewrites
here that are not exact: the first quantises the recogniser's character
classifier to int8 (1.10x faster recognition, the same text on the
evaluation set), the second runs the int8 recogniser's hard-swish
activations on uint8 instead of float (1.2x faster per page, CER +0.02
points).  :mod:`.weights` applies both to the int8 recogniser only where
:func:`int8_without_saturation`.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np


class _Graph:
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


def _attr(node, name: str, default=None):
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def _scalar(value: np.ndarray | None) -> float | None:
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


def _fold_into_conv(g: _Graph, node, producer, consumers) -> bool:
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


def _fold_affine_forward(g: _Graph, node, consumers) -> bool:
    """``Add(Mul(x, a), b)`` whose every consumer is a Conv: into those convs."""
    if node.op_type != "Mul":
        return False
    x, value = g.constant_operand(node)
    scale = _scalar(value)
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
        if _scalar(shift_value) is not None:
            shift, last = _scalar(shift_value), users[0]
    out = last.output[0]
    convs = consumers[out]
    if (
        out in g.outputs
        or not convs
        or any(
            conv.op_type != "Conv"
            or conv.input[0] != out
            or _attr(conv, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")
            for conv in convs
        )
    ):
        return False
    shifted = None  # x + b/a, made once for every zero-padded consumer
    for conv in convs:
        weight, bias = g.conv_params(conv)
        if any(_attr(conv, "pads", ())):
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
    g = _Graph(model)
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


def quantize_ctc_head(model: Any) -> tuple[Any, bool]:
    """Quantise a CTC recogniser's character classifier to int8, in place.

    PP-OCRv5's recogniser ends with ``MatMul(features, W) + b`` over the
    whole character set (W is 120 x 18385) for every 8-px column of the
    line, then a softmax.  That one MatMul is 13% of the int8 recogniser's
    time on CPU, compute bound, and the bias ``Add`` another pass over the
    same 18385-wide tensor.  This replaces both with onnxruntime's
    ``com.microsoft.DynamicQuantizeMatMul``: the weights int8, symmetric,
    one scale per character; the features quantised to uint8 per call (so
    no calibration, and every line gets its own range); int32 accumulation
    and the bias in the same kernel.  The softmax and the graph's output
    are unchanged.

    Not exact: on 310 text lines of 6 pages the decoded text was identical
    and the character probabilities moved by at most 0.05
    (``bench/RESULTS.md``).  uint8 x int8 products can saturate on x86
    CPUs without VNNI, so :mod:`.weights` applies this only where
    :func:`int8_without_saturation` says so.

    Returns:
        ``(model, changed)``: ``changed`` is False (model untouched) when no
        ``MatMul -> Add`` with constant 2-D weights and a constant bias of
        the same width, feeding a ``Softmax``, is found.
    """
    from onnx import helper

    g = _Graph(model)
    _producer, consumers = g.maps()

    def head(matmul):
        """``(matmul, add, weight, bias)`` when ``matmul`` is the head."""
        if matmul.op_type != "MatMul" or matmul.input[1] not in g.consts:
            return None
        weight = g.consts[matmul.input[1]]
        users = consumers[matmul.output[0]]
        if weight.ndim != 2 or len(users) != 1 or users[0].op_type != "Add":
            return None
        add = users[0]
        bias_name = next((n for n in add.input if n != matmul.output[0]), None)
        if bias_name not in g.consts:
            return None
        bias = g.consts[bias_name].reshape(-1)
        if bias.size != weight.shape[1]:
            return None
        # Through shape-only ops to the softmax the decoder reads.
        frontier, seen = [add.output[0]], 0
        while frontier and seen < 4:
            nexts = [n for name in frontier for n in consumers[name]]
            if any(n.op_type == "Softmax" for n in nexts):
                return matmul, add, weight, bias
            frontier = [
                n.output[0] for n in nexts if n.op_type in ("Flatten", "Reshape")
            ]
            seen += 1
        return None

    found = next(filter(None, map(head, reversed(g.nodes))), None)
    if found is None:
        return model, False
    matmul, add, weight, bias = found
    scale = np.maximum(np.abs(weight).max(axis=0), 1e-12) / 127.0
    quantized = np.clip(np.round(weight / scale), -127, 127).astype(np.int8)
    base = f"{matmul.name or 'ctc_head'}_int8"
    replacement = helper.make_node(
        "DynamicQuantizeMatMul",
        [
            matmul.input[0],
            g.constant(f"{base}_weight", quantized),
            g.constant(f"{base}_scale", scale.astype(np.float32)),
            g.constant(f"{base}_zero_point", np.zeros(weight.shape[1], np.int8)),
            g.constant(f"{base}_bias", bias.astype(np.float32)),
        ],
        [add.output[0]],
        name=base,
        domain="com.microsoft",
    )
    g.nodes[g.nodes.index(add)] = replacement
    g.nodes.remove(matmul)
    g.write_back(model)  # drops the float weights and bias, now unread
    _contrib_opset(model)
    return model, True


def _uint8_qparams(g: _Graph, node) -> tuple[float, int] | None:
    """``(scale, zero point)`` of a Quantize/DequantizeLinear node with
    constant per-tensor parameters and a uint8 zero point, else None."""
    if len(node.input) < 3:
        return None
    scale, zero = g.consts.get(node.input[1]), g.consts.get(node.input[2])
    if _scalar(scale) is None or _scalar(zero) is None or zero.dtype != np.uint8:
        return None
    return _scalar(scale), int(_scalar(zero))


def _contrib_opset(model: Any) -> None:
    """Declare onnxruntime's ``com.microsoft`` ops the rewrites use."""
    from onnx import helper

    if not any(op.domain == "com.microsoft" for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))


def _swish_chain(g: _Graph, hsig, producer, consumers):
    """``(dq, nodes, a, c, q)`` when ``hsig`` is the hard-swish of a quantised
    tensor, ``Q(a * DQ(x) * HardSigmoid(DQ(x)) + c)`` with scalars ``a`` and
    ``c``, that nothing else reads on the way; else None."""
    alpha, beta = _attr(hsig, "alpha", 0.2), _attr(hsig, "beta", 0.5)
    if abs(alpha - 1 / 6) > 1e-6 or abs(beta - 0.5) > 1e-6:
        return None
    dq = producer.get(hsig.input[0])
    if dq is None or dq.op_type != "DequantizeLinear" or not _uint8_qparams(g, dq):
        return None
    users = consumers[hsig.output[0]]
    if len(users) != 1 or users[0].op_type != "Mul":
        return None
    mul = users[0]
    if set(mul.input) != {dq.output[0], hsig.output[0]}:
        return None
    if {id(n) for n in consumers[dq.output[0]]} != {id(hsig), id(mul)}:
        return None
    nodes, a, c, node = [dq, hsig, mul], 1.0, 0.0, mul
    while True:
        users = consumers[node.output[0]]
        if node.output[0] in g.outputs or len(users) != 1:
            return None
        node = users[0]
        if node.op_type == "QuantizeLinear":
            break
        if node.op_type not in ("Mul", "Add"):
            return None
        _tensor, const = g.constant_operand(node)
        if const is None or const.size != 1:
            return None
        value = _scalar(const)
        if node.op_type == "Mul":
            a, c = a * value, c * value
        else:
            c += value
        nodes.append(node)
    if _uint8_qparams(g, node) is None or a <= 0:
        return None
    return dq, nodes, a, c, node


def _rescale_readers(g: _Graph, q, scale: float, producer, consumers) -> bool:
    """Make every reader of ``q``'s output (each a DequantizeLinear with
    ``q``'s own scale and zero point) read it at ``scale`` instead, and
    requantise the int32 bias of each convolution they feed to the new input
    scale (onnxruntime fuses DQ -> Conv -> Q into a QLinearConv only while the
    bias's scale is the input's times the weights')."""
    readers = consumers[q.output[0]]
    params = _uint8_qparams(g, q)
    for reader in readers:
        if reader.op_type != "DequantizeLinear" or _uint8_qparams(g, reader) != params:
            return False
    name = g.constant(q.input[1], np.array(scale, np.float32))
    for reader in readers:
        reader.input[1] = name
        for conv in consumers[reader.output[0]]:
            if conv.op_type != "Conv" or len(conv.input) < 3 or not conv.input[2]:
                continue
            bias_dq, weight_dq = (
                producer.get(conv.input[2]),
                producer.get(conv.input[1]),
            )
            if bias_dq is None or bias_dq.op_type != "DequantizeLinear":
                continue
            bias = g.consts[bias_dq.input[0]].astype(np.float64)
            if len(bias_dq.input) > 2 and bias_dq.input[2]:
                bias = bias - g.consts[bias_dq.input[2]]
            bias = bias * g.consts[bias_dq.input[1]]
            bias_scale = np.float32(scale) * g.consts[weight_dq.input[1]].astype(
                np.float32
            )
            bias_dq.input[0] = g.constant(
                bias_dq.input[0], np.round(bias / bias_scale).astype(np.int32)
            )
            bias_dq.input[1] = g.constant(
                bias_dq.input[1], bias_scale.astype(np.float32)
            )
    return True


def quantize_hardswish(model: Any, min_shift_steps: int = 4) -> tuple[Any, int]:
    """Run a QDQ model's hard-swish activations on uint8, in place.

    Between the int8 recogniser's convolutions every hard-swish runs in
    float: ``DequantizeLinear``, ``HardSigmoid``, ``Mul``, often a scalar
    ``Mul``/``Add`` (an affine block that :func:`fold` could not move into a
    zero-padded convolution), then ``QuantizeLinear`` for the next
    convolution, each a pass over a float feature map: about 40% of the
    recogniser's time on CPU, more than its int8 convolutions.  onnxruntime
    has no quantised hard-swish, so this builds one from two of its uint8
    contrib kernels:

    * ``QLinearLeakyRelu`` with ``alpha=1`` is a 256-entry table from the
      quantised input to ``HardSigmoid(x)`` quantised in steps of 1/255
      (``(x + 3) / 6`` is the requantisation, and the uint8 range clips it
      to [0, 1]);
    * ``QLinearMul`` of the input and that table's output gives
      ``x * HardSigmoid(x)``, requantised straight to the next
      convolution's input (a scalar ``Mul`` by ``a`` folds into its scale).

    A scalar ``Add c`` becomes a whole number ``k`` of quantisation steps
    added to the output's zero point, with the step set to ``c / k`` (at
    most ``1/k`` coarser than the calibrated one; the readers and the next
    convolution's bias follow), so the shift stays exact at the zero-padded
    borders.  Chains whose shift is under ``min_shift_steps`` steps stay in
    float.

    Not exact: the table has 8 bits, and with an odd number of steps
    across [-3, 3] its midpoint falls half a step low (``HardSigmoid`` is
    off by at most 1/255).  On the bundled int8 recogniser (21 of its 30
    hard-swishes rewritten) the 21 evaluation pages read at CER 0.80%
    against 0.78%, 1.2x faster per page (``bench/RESULTS.md``).

    Returns:
        ``(model, rewritten)``: how many hard-swish chains now run on uint8.
    """
    from onnx import helper

    g = _Graph(model)
    rewritten = 0
    for hsig in [n for n in g.nodes if n.op_type == "HardSigmoid"]:
        producer, consumers = g.maps()
        chain = _swish_chain(g, hsig, producer, consumers)
        if chain is None:
            continue
        dq, nodes, a, c, q = chain
        out_scale, out_zero = _uint8_qparams(g, q)
        if c:
            # The coarser whole step, so the range only grows.
            k = int(np.sign(c) * np.floor(abs(c) / out_scale))
            if abs(k) < min_shift_steps or not 0 <= out_zero + k <= 255:
                continue
            out_scale = c / k
            if not _rescale_readers(g, q, out_scale, producer, consumers):
                continue
            out_zero += k
        base = f"{hsig.name or 'hard_swish'}_u8"
        table = helper.make_node(
            "QLinearLeakyRelu",
            [
                *dq.input[:3],
                g.constant(f"{base}_table_scale", np.array(6 / 255, np.float32)),
                g.constant(f"{base}_table_zero", np.array(127, np.uint8)),
            ],
            [f"{base}_hard_sigmoid"],
            name=f"{base}_hard_sigmoid",
            domain="com.microsoft",
            alpha=1.0,
        )
        product = helper.make_node(
            "QLinearMul",
            [
                *dq.input[:3],
                f"{base}_hard_sigmoid",
                g.constant(f"{base}_hs_scale", np.array(1 / 255, np.float32)),
                g.constant(f"{base}_hs_zero", np.array(0, np.uint8)),
                g.constant(f"{base}_out_scale", np.array(out_scale / a, np.float32)),
                g.constant(f"{base}_out_zero", np.array(out_zero, np.uint8)),
            ],
            [q.output[0]],
            name=f"{base}_mul",
            domain="com.microsoft",
        )
        at = g.nodes.index(dq)
        for node in [*nodes, q]:
            g.nodes.remove(node)
        g.nodes[at:at] = [table, product]
        rewritten += 1
    if rewritten:
        g.write_back(model)
        _contrib_opset(model)
    return model, rewritten


def int8_without_saturation(cpuinfo: str | None = None) -> bool:
    """Whether this CPU adds uint8 x int8 products without saturating.

    x86 CPUs without VNNI (AVX2, AVX-512 before Cascade Lake, for example
    Google Cloud's N1 machines) add the products in pairs into int16, which
    saturates for large activations times large weights; with VNNI
    (``avx512_vnni``, ``avx_vnni``, AMX) they accumulate in int32, and Arm
    CPUs widen before they add.  Reads ``/proc/cpuinfo``; False where it
    cannot be read or says neither (not Linux), so int8 stays off there.
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as file:
                cpuinfo = file.read()
        except OSError:
            return False
    x86_flags: set[str] = set()
    arm = False
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "flags":
            x86_flags.update(value.split())
        elif key == "features":
            arm = True
    if x86_flags:
        return bool(x86_flags & {"avx512_vnni", "avx_vnni", "amx_int8"})
    return arm
