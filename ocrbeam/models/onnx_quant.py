"""int8 rewrites of the quantised PP-OCRv5 recogniser (not exact).

:func:`quantize_ctc_head` quantises the recogniser's character classifier to
int8; :func:`quantize_hardswish` runs the int8 recogniser's hard-swish
activations on uint8 instead of float.  bench/README.md has what each gains
and costs.  Build tools, like :mod:`.onnx_fold`: :mod:`.build` applies them
when the shipped int8 recogniser is made, never on a worker.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .onnx_fold import Graph, node_attribute, scalar_value


def quantize_ctc_head(model: Any) -> tuple[Any, bool]:
    """Quantise a CTC recogniser's character classifier to int8, in place.

    PP-OCRv5's recogniser ends with ``MatMul(features, W) + b`` over the
    whole character set (W is 120 x 18385) for every 8-px column of the
    line, then a softmax.  That one MatMul is a large, compute-bound share
    of the int8 recogniser's time on CPU, and the bias ``Add`` another pass
    over the same 18385-wide tensor.  This replaces both with onnxruntime's
    ``com.microsoft.DynamicQuantizeMatMul``: the weights int8, symmetric,
    one scale per character; the features quantised to uint8 per call (so
    no calibration, and every line gets its own range); int32 accumulation
    and the bias in the same kernel.  The softmax and the graph's output
    are unchanged.

    Not exact: character probabilities move a little (the decoded text is
    what bench/evaluate.py scores).  uint8 x int8 products can saturate on
    x86 CPUs without VNNI, so ocrbeam runs the int8 recogniser only where
    :func:`ocrbeam.models.bundled.int8_without_saturation` says so.

    Returns:
        ``(model, changed)``: ``changed`` is False (model untouched) when no
        ``MatMul -> Add`` with constant 2-D weights and a constant bias of
        the same width, feeding a ``Softmax``, is found.
    """
    from onnx import helper

    g = Graph(model)
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


def _uint8_qparams(g: Graph, node) -> tuple[float, int] | None:
    """``(scale, zero point)`` of a Quantize/DequantizeLinear node with
    constant per-tensor parameters and a uint8 zero point, else None."""
    if len(node.input) < 3:
        return None
    scale, zero = g.consts.get(node.input[1]), g.consts.get(node.input[2])
    if (
        scalar_value(scale) is None
        or scalar_value(zero) is None
        or zero.dtype != np.uint8
    ):
        return None
    return scalar_value(scale), int(scalar_value(zero))


def _contrib_opset(model: Any) -> None:
    """Declare onnxruntime's ``com.microsoft`` ops the rewrites use."""
    from onnx import helper

    if not any(op.domain == "com.microsoft" for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))


def _swish_chain(g: Graph, hsig, producer, consumers):
    """``(dq, nodes, a, c, q)`` when ``hsig`` is the hard-swish of a quantised
    tensor, ``Q(a * DQ(x) * HardSigmoid(DQ(x)) + c)`` with scalars ``a`` and
    ``c``, that nothing else reads on the way; else None."""
    alpha, beta = node_attribute(hsig, "alpha", 0.2), node_attribute(hsig, "beta", 0.5)
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
        value = scalar_value(const)
        if node.op_type == "Mul":
            a, c = a * value, c * value
        else:
            c += value
        nodes.append(node)
    if _uint8_qparams(g, node) is None or a <= 0:
        return None
    return dq, nodes, a, c, node


def _rescale_readers(g: Graph, q, scale: float, producer, consumers) -> bool:
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
    off by at most 1/255); bench/evaluate.py scores what that costs.

    Returns:
        ``(model, rewritten)``: how many hard-swish chains now run on uint8.
    """
    from onnx import helper

    g = Graph(model)
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
