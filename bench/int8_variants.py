"""Model folders of int8 recogniser variants, for bench/evaluate.py.

From each statically quantised base (``bench/int8_static.py --save``; the
shipped recogniser's base is ``git show
fb934c9:ocrbeam/models/PP-OCRv5_mobile_rec_int8.onnx``) it writes the build
steps of ocrbeam/models/PROVENANCE.md one by one and together:

* ``NAME-conv``: the base as it is (int8 convolutions);
* ``NAME-head``: its character classifier quantised too;
* ``NAME-hardswish``: its hard-swish activations on uint8 instead;
* ``NAME-full``: both (how the shipped int8 recogniser is made);

then prints the ``--variant`` arguments that score them all in one run:

    python bench/int8_variants.py shipped=BASE.onnx varied=V.onnx --out DIR
    python bench/evaluate.py --set scanned $(cat DIR/variants.args)
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STEPS = {
    "conv": (),
    "head": ("head",),
    "hardswish": ("hardswish",),
    "full": ("head", "hardswish"),
}


def build_variants(name: str, base: Path, out: Path) -> dict[str, Path]:
    """``{variant name: model folder}`` for one base."""
    import onnx

    from ocrbeam.models.bundled import shipped_model_dir
    from ocrbeam.models.onnx_quant import quantize_ctc_head, quantize_hardswish

    yml = shipped_model_dir("PP-OCRv5_mobile_rec_int8") / "inference.yml"
    folders = {}
    for step, rewrites in STEPS.items():
        model = onnx.load(str(base))
        if "head" in rewrites:
            model, changed = quantize_ctc_head(model)
            if not changed:
                raise SystemExit(f"{base}: no character classifier to quantise")
        if "hardswish" in rewrites:
            model, rewritten = quantize_hardswish(model)
            if not rewritten:
                raise SystemExit(f"{base}: no hard-swish to rewrite")
        folder = out / f"{name}-{step}"
        folder.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(folder / "inference.onnx"))
        shutil.copy(yml, folder / "inference.yml")
        folders[f"{name}-{step}"] = folder
    return folders


def _base(text: str) -> tuple[str, Path]:
    name, _, path = text.partition("=")
    if not path:
        raise argparse.ArgumentTypeError(f"expected NAME=BASE.onnx: {text!r}")
    return name, Path(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bases", nargs="+", type=_base, metavar="NAME=BASE.onnx")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    flags = []
    for name, base in args.bases:
        for variant, folder in build_variants(name, base, args.out).items():
            flags += [
                "--variant",
                f"{variant}=ocr.textRecognitionModelDir={folder.resolve()}",
            ]
    (args.out / "variants.args").write_text(" ".join(flags) + "\n")
    print(" ".join(flags))


if __name__ == "__main__":
    main()
