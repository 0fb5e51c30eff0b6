"""Model weights that ship with ocrbeam, and the tools that made them.

* :mod:`.bundled`: which folder each engine reads (runtime);
* :mod:`.build`: regenerates and checks the shipped model files from the
  registry's exports (``python -m ocrbeam.models.build --check``);
* :mod:`.onnx_fold`, :mod:`.onnx_quant`: the graph rewrites :mod:`.build`
  applies (exact folding; int8 rewrites);
* ``PROVENANCE.md``: where each file comes from, its licence, its sha256.
"""
