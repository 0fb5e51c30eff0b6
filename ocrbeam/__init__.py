"""ocrbeam: OCR and document parsing for data lakes on Apache Beam.

Installed, ``ocrbeam.transforms`` and ``ocrbeam.pipelines`` are regular
subpackages (pyproject.toml maps the repo's top-level ``transforms/`` and
``pipelines/`` folders onto them).  In a source checkout, where this folder sits
next to those two, the checkout's root is added to this package's search path
so that ``python -m pytest`` or ``python -m ocrbeam`` run from the repo root
import the checkout's code rather than failing on the half-package found first.
"""

import os as _os

__version__ = "0.3.0"

_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_root, "pyproject.toml")) and _os.path.isfile(
    _os.path.join(_root, "transforms", "records.py")
):
    __path__.append(_root)  # noqa: F821 - __path__ is defined for packages
