"""Page images between stages and engines: encoded bytes <-> numpy BGR."""

from __future__ import annotations

import io


def decode_png(data: bytes):
    """PNG/JPEG bytes -> numpy BGR array (what PaddleOCR expects)."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        rgb = np.asarray(img.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


def encode_png(image) -> bytes:
    """numpy BGR array -> PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image[:, :, ::-1]).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
