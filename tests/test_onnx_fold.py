"""Folding element-wise affine ops into convolutions keeps every output."""

import collections

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from ocrbeam.models.bundled import int8_without_saturation  # noqa: E402
from ocrbeam.models.onnx_fold import fold  # noqa: E402
from ocrbeam.models.onnx_quant import (  # noqa: E402
    quantize_ctc_head,
    quantize_hardswish,
)


def _session(model):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options)


def _run(model, x):
    session = _session(model)
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _ops(model):
    return collections.Counter(node.op_type for node in model.graph.node)


def _lcnet_like_block(pads: list[int]):
    """conv -> +bias -> *a +b (affine) -> hard-swish -> *a2 +b2 -> conv(pads),
    with Identity nodes between, as Paddle2ONNX exports PP-LCNetV3."""
    rng = np.random.RandomState(0)
    inits = [
        numpy_helper.from_array(rng.randn(8, 3, 3, 3).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.randn(1, 8, 1, 1).astype(np.float32), "b1"),
        numpy_helper.from_array(np.array([1.7], np.float32), "a1"),
        numpy_helper.from_array(np.array([-0.3], np.float32), "c1"),
        numpy_helper.from_array(np.array([0.8], np.float32), "a2"),
        numpy_helper.from_array(np.array([0.45], np.float32), "c2"),
        numpy_helper.from_array(rng.randn(8, 1, 3, 3).astype(np.float32), "w2"),
        numpy_helper.from_array(rng.randn(4, 8, 1, 1).astype(np.float32), "w3"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["t0"], pads=[1, 1, 1, 1]),
        helper.make_node("Identity", ["t0"], ["t1"]),
        helper.make_node("Add", ["t1", "b1"], ["t2"]),
        helper.make_node("Mul", ["a1", "t2"], ["t3"]),
        helper.make_node("Add", ["t3", "c1"], ["t4"]),
        helper.make_node("HardSigmoid", ["t4"], ["t5"], alpha=1 / 6, beta=0.5),
        helper.make_node("Mul", ["t5", "t4"], ["t6"]),
        helper.make_node("Mul", ["a2", "t6"], ["t7"]),
        helper.make_node("Add", ["t7", "c2"], ["t8"]),
        # depthwise: zero-padded, only the scale passes into it (the shift
        # stays as x + b/a); unpadded, both fold into its weights and bias
        helper.make_node("Conv", ["t8", "w2"], ["t9"], group=8, pads=pads),
        helper.make_node("Mul", ["t9", "a2"], ["t10"]),
        helper.make_node("Add", ["t10", "c2"], ["t11"]),
        helper.make_node("Conv", ["t11", "w3"], ["y"]),
    ]
    return _model(nodes, inits, [1, 3, 12, 40])


def _model(nodes, inits, input_shape):
    """One input ``x``, one output ``y``; IR 8, which every onnxruntime this
    project allows can read."""
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8
    )


@pytest.mark.parametrize("pads", [[1, 1, 1, 1], [0, 0, 0, 0]])
def test_folded_block_gives_the_same_output_with_fewer_passes(pads):
    x = np.random.RandomState(1).randn(1, 3, 12, 40).astype(np.float32)
    original = _lcnet_like_block(pads)
    expected = _run(original, x)
    before = _ops(original)
    folded, counts = fold(original)
    after = _ops(folded)

    np.testing.assert_allclose(_run(folded, x), expected, rtol=1e-4, atol=1e-4)
    assert after["Identity"] == 0 and counts["identity"] == 1
    # the conv bias and both affines that follow a conv
    assert counts["conv_add"] == 3 and counts["conv_mul"] == 2
    # the affine after the hard-swish, into the depthwise conv
    assert counts["affine_into_conv"] == 1
    # Left: the hard-swish itself, and with padding one Add (x + b/a).
    assert after["Mul"] == 1 and after["HardSigmoid"] == 1
    assert after["Add"] == (1 if any(pads) else 0)
    assert before["Mul"] + before["Add"] == 8


def test_a_tensor_other_ops_also_read_is_left_alone():
    """An affine whose output also feeds a non-conv op cannot be folded away."""
    rng = np.random.RandomState(2)
    inits = [
        numpy_helper.from_array(np.array([2.0], np.float32), "a"),
        numpy_helper.from_array(np.array([0.5], np.float32), "b"),
        numpy_helper.from_array(rng.randn(2, 3, 1, 1).astype(np.float32), "w"),
    ]
    nodes = [
        helper.make_node("Mul", ["x", "a"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["z"]),
        helper.make_node("Conv", ["z", "w"], ["c"]),
        helper.make_node("ReduceMean", ["z"], ["r"], axes=[1], keepdims=1),
        helper.make_node("Add", ["c", "r"], ["y"]),
    ]
    model = _model(nodes, inits, [1, 3, 4, 5])
    x = rng.randn(1, 3, 4, 5).astype(np.float32)
    expected = _run(model, x)
    folded, counts = fold(model)
    assert counts.get("affine_into_conv", 0) == 0
    np.testing.assert_allclose(_run(folded, x), expected, rtol=1e-5, atol=1e-5)


def _ctc_head_model(classes: int = 600):
    """features (1, T, 16) -> Transpose-free MatMul(W) + b -> Flatten ->
    Softmax -> Reshape, the tail PP-OCRv5's recogniser exports with."""
    rng = np.random.RandomState(3)
    inits = [
        numpy_helper.from_array(rng.randn(16, classes).astype(np.float32), "W"),
        numpy_helper.from_array(rng.randn(classes).astype(np.float32), "b"),
        numpy_helper.from_array(np.array([1, -1, classes], np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("Relu", ["x"], ["f"]),
        helper.make_node("MatMul", ["f", "W"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["logits"]),
        helper.make_node("Flatten", ["logits"], ["flat"], axis=2),
        helper.make_node("Softmax", ["flat"], ["p"], axis=1),
        helper.make_node("Reshape", ["p", "shape"], ["y"]),
    ]
    return _model(nodes, inits, [1, 40, 16])


def test_ctc_head_quantised_keeps_the_argmax_and_the_probabilities():
    model = _ctc_head_model()
    x = np.random.RandomState(4).randn(1, 40, 16).astype(np.float32)
    expected = _run(model, x)
    quantized, changed = quantize_ctc_head(model)
    assert changed
    ops = _ops(quantized)
    assert ops["DynamicQuantizeMatMul"] == 1 and ops["MatMul"] == 0
    assert ops["Add"] == 0 and ops["Softmax"] == 1
    # The float weights are gone; int8 weights, one scale per class, stay.
    names = {init.name: init for init in quantized.graph.initializer}
    assert "W" not in names and "b" not in names
    weight = next(i for i in names.values() if i.data_type == TensorProto.INT8
                  and len(i.dims) == 2)  # fmt: skip
    assert list(weight.dims) == [16, 600]
    got = _run(quantized, x)
    assert got.shape == expected.shape
    assert (got.argmax(-1) == expected.argmax(-1)).mean() > 0.97
    from ocrbeam.models.bundled import int8_without_saturation

    if int8_without_saturation():
        # Without VNNI onnxruntime's u8s8 products saturate in int16 (the
        # reason ocrbeam runs the int8 recogniser only where this holds):
        # the probabilities are only close where they do not.
        np.testing.assert_allclose(got.max(-1), expected.max(-1), atol=0.05)


def test_models_without_a_ctc_head_are_left_alone():
    model = _lcnet_like_block([1, 1, 1, 1])
    before = model.SerializeToString()
    same, changed = quantize_ctc_head(model)
    assert not changed and same.SerializeToString() == before


def _quantised_swish_block(a: float, c: float):
    """Q -> DQ -> hard-swish -> *a +c -> Q -> DQ -> zero-padded depthwise
    conv (int8 weights, int32 bias) -> Q -> DQ: the shape of a block of the
    int8 recogniser between two of its convolutions."""
    rng = np.random.RandomState(5)
    channels = 4
    in_scale, out_scale = 0.06, 0.045
    weight_scale = np.full(channels, 0.004, np.float32)
    bias = rng.randn(channels).astype(np.float32)
    const = {
        "s_in": np.array(in_scale, np.float32),
        "z_in": np.array(120, np.uint8),
        "a": np.array(a, np.float32),
        "c": np.array(c, np.float32),
        "s_out": np.array(out_scale, np.float32),
        "z_out": np.array(60, np.uint8),
        "w_q": rng.randint(-127, 128, (channels, 1, 3, 3)).astype(np.int8),
        "w_s": weight_scale,
        "w_z": np.zeros(channels, np.int8),
        "b_q": np.round(bias / (np.float32(out_scale) * weight_scale)).astype(np.int32),
        "b_s": (np.float32(out_scale) * weight_scale).astype(np.float32),
        "b_z": np.zeros(channels, np.int32),
        "s_y": np.array(0.2, np.float32),
        "z_y": np.array(128, np.uint8),
    }
    inits = [numpy_helper.from_array(v, k) for k, v in const.items()]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_in", "z_in"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s_in", "z_in"], ["xf"]),
        helper.make_node("HardSigmoid", ["xf"], ["hs"], alpha=1 / 6, beta=0.5),
        helper.make_node("Mul", ["xf", "hs"], ["sw"]),
        helper.make_node("Mul", ["sw", "a"], ["swa"]),
        helper.make_node("Add", ["swa", "c"], ["swc"]),
        helper.make_node("QuantizeLinear", ["swc", "s_out", "z_out"], ["tq"]),
        helper.make_node("DequantizeLinear", ["tq", "s_out", "z_out"], ["tf"]),
        helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w"], axis=0),
        helper.make_node("DequantizeLinear", ["b_q", "b_s", "b_z"], ["b"], axis=0),
        helper.make_node(
            "Conv", ["tf", "w", "b"], ["conv"], group=channels, pads=[1, 1, 1, 1]
        ),
        helper.make_node("QuantizeLinear", ["conv", "s_y", "z_y"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "s_y", "z_y"], ["y"]),
    ]
    return _model(nodes, inits, [1, channels, 6, 20])


def _optimised_ops(model, tmp_path):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    ort.InferenceSession(model.SerializeToString(), options)
    return _ops(onnx.load(options.optimized_model_filepath))


@pytest.mark.parametrize(("a", "c"), [(1.0, 0.0), (1.3, 0.4), (0.8, -0.3)])
def test_hard_swish_runs_on_uint8_and_reads_the_same(a, c, tmp_path):
    model = _quantised_swish_block(a, c)
    # within the calibrated ranges, as a calibrated model's activations are
    x = np.random.RandomState(6).uniform(-5, 6, (1, 4, 6, 20)).astype(np.float32)
    expected = _run(model, x)
    # the int8 convolution is fused before and after
    assert _optimised_ops(model, tmp_path)["QLinearConv"] == 1
    rewritten, count = quantize_hardswish(model)
    assert count == 1
    ops = _ops(rewritten)
    assert ops["HardSigmoid"] == 0 and ops["Mul"] == 0 and ops["Add"] == 0
    assert ops["QLinearLeakyRelu"] == 1 and ops["QLinearMul"] == 1
    # A shift (c) moved into the zero point: the convolution after it, its
    # bias requantised to the new input scale, is still fused.
    assert _optimised_ops(rewritten, tmp_path)["QLinearConv"] == 1
    got = _run(rewritten, x)
    # 8-bit HardSigmoid: most outputs the same, none more than 2 steps off,
    # and the zero-padded borders as right as the middle.
    steps = np.abs(got - expected) / 0.2
    assert steps.max() <= 2.01 and (steps < 0.5).mean() > 0.8
    assert steps[..., [0, -1]].mean() <= steps.mean() + 0.1


def test_a_shift_of_few_quantisation_steps_stays_in_float():
    # c = 0.1 is about 2 steps of 0.045: a scale coarser by up to 1/2 would
    # cost too much precision, so the chain is left as it is.
    model = _quantised_swish_block(1.0, 0.1)
    before = model.SerializeToString()
    same, count = quantize_hardswish(model)
    assert count == 0 and same.SerializeToString() == before


@pytest.mark.parametrize(
    ("cpuinfo", "expected"),
    [
        ("processor : 0\nflags : fpu sse avx2 avx512f avx512_vnni\n", True),
        ("flags\t\t: fpu avx2 avx_vnni\n", True),
        ("flags : fpu sse avx2 avx512f avx512bw\n", False),  # Skylake-SP
        ("Features : fp asimd asimddp\n", True),  # Arm widens before it adds
        ("Features : fp asimd\n", True),
        ("", False),  # unknown: int8 stays off
    ],
)
def test_int8_saturation_is_read_from_the_cpu_flags(cpuinfo, expected):
    assert int8_without_saturation(cpuinfo) is expected
