"""Changes ocrbeam makes to PaddleX's PP-OCRv5 pipeline once it is built.

Each wraps one step of a PaddleX 3.7 predictor and keeps its interface; each
refuses loudly (``RuntimeError`` naming the setting that turns it off) when
the installed PaddleX is laid out differently from the pinned release:

* :func:`narrow_recognizer`: text lines narrowed before recognition
  (``ocr.textRecognitionWidthScale``);
* :func:`lean_recognizer`: the recogniser's batching and CTC decoding without
  copies (same outputs);
* :func:`per_line_classes`: a fix of PaddleX 3.7.2's classifier batches,
  which gave every line the first line's angle;
* :func:`gate_textline_orientation`: text-line orientation only for lines
  that read badly (``ocr.textlineOrientationBelowScore``).

:func:`apply` makes all of them, as ocrbeam's engine runs.
"""

from __future__ import annotations

import math
from typing import Any, Optional


class _NarrowedLines:
    """PaddleX's recogniser resize step, fed text-line crops narrowed by
    ``scale`` first.

    PP-OCRv5's recogniser costs time in proportion to a line's width after it
    is scaled to 48 px high, and it reads a line from one output column per 8
    input pixels: about 3 columns per Latin character at full width, more
    than the CTC decoder needs.  Narrowing the crops (not the height) cuts the
    columns, and the time, in proportion (bench/evaluate.py measures what it
    costs in accuracy).
    """

    def __init__(self, resize, scale: float):
        self._resize = resize
        self.scale = scale

    def __call__(self, imgs):
        import cv2

        height = self._resize.rec_image_shape[1]
        narrowed = []
        for img in imgs:
            h, w = img.shape[:2]
            if w >= h:
                # One resize straight to the recogniser's height and the
                # narrowed width (PaddleX's own step then finds nothing to
                # do): narrowing first at the crop's own, lower resolution
                # would lose detail the model needs.
                width = max(1, math.ceil(height * w / h * self.scale))
                img = cv2.resize(img, (width, height))
            narrowed.append(img)
        return self._resize(narrowed)


def narrow_recognizer(predictor, scale: float) -> None:
    """Make a PaddleX text-recognition predictor narrow every line crop by
    ``scale`` before it reads it (1.0: leave it as it is).

    Raises:
        RuntimeError: this PaddleX release is laid out differently (the pins
            in pyproject.toml are the ones this was built for).
    """
    if scale >= 1.0:
        return
    try:
        resize = predictor.pre_tfs["ReisizeNorm"]
        resize.rec_image_shape[1]
    except (AttributeError, KeyError, TypeError, IndexError) as exc:
        raise RuntimeError(
            "ocr.textRecognitionWidthScale < 1 needs the PaddleX text "
            "recogniser's resize step (paddlex 3.7), which this install does "
            f"not have ({exc!r}); set textRecognitionWidthScale: 1.0"
        ) from exc
    if isinstance(resize, _NarrowedLines):
        resize = resize._resize
    predictor.pre_tfs["ReisizeNorm"] = _NarrowedLines(resize, scale)


def narrow_text_lines(pipeline, scale: float) -> None:
    """:func:`narrow_recognizer` for the recogniser of a ``paddleocr.PaddleOCR``."""
    if scale >= 1.0:
        return
    try:
        predictor = _paddlex_ocr(pipeline).text_rec_model
    except AttributeError as exc:
        raise RuntimeError(
            "ocr.textRecognitionWidthScale < 1 needs PaddleOCR 3.7's pipeline "
            f"layout ({exc!r}); set textRecognitionWidthScale: 1.0"
        ) from exc
    narrow_recognizer(predictor, scale)


def _paddlex_ocr(pipeline):
    """The PaddleX OCR pipeline inside a ``paddleocr.PaddleOCR`` (None where
    this release lays it out differently): where ocrbeam's engine settings
    reach its recogniser and its text-line classifier."""
    return getattr(getattr(pipeline, "paddlex_pipeline", None), "_pipeline", None)


class _LeanCtcDecode:
    """PaddleX's CTC decoding of the recogniser's output, with the same
    texts and scores, without copying the (columns x 18385) probabilities
    and reading them twice (argmax, then max)."""

    def __init__(self, decode):
        self._decode = decode

    def __call__(self, pred, return_word_box=False, **kwargs):
        import numpy as np

        if return_word_box:
            return self._decode(pred, return_word_box=True, **kwargs)
        probs = np.asarray(pred[0])
        index = probs.argmax(axis=-1)
        best = np.take_along_axis(probs, index[..., None], axis=-1)[..., 0]
        decoded = self._decode.decode(index, best, is_remove_duplicate=True)
        return [text for text, _ in decoded], [score for _, score in decoded]

    def __getattr__(self, name):
        return getattr(self._decode, name)


class _LeanBatch:
    """PaddleX's batching step of the recogniser, without its two copies of
    the line (a zero-width ``np.pad``, then ``np.stack``) when the batch is
    one line, as ocrbeam runs it on CPU; same array."""

    def __init__(self, to_batch):
        self._to_batch = to_batch

    def __call__(self, imgs):
        import numpy as np

        if len(imgs) == 1:
            return [imgs[0][None].astype(np.float32, copy=False)]
        return self._to_batch(imgs)


def lean_recognizer(predictor) -> None:
    """Give a PaddleX text-recognition predictor :class:`_LeanBatch` and
    :class:`_LeanCtcDecode` (outputs unchanged); a predictor laid out
    differently, or with another decoder, is left as it is."""
    from paddlex.inference.models.text_recognition.processors import (
        CTCLabelDecode,
        ToBatch,
    )

    pre_tfs = getattr(predictor, "pre_tfs", None)
    if isinstance(pre_tfs, dict) and isinstance(pre_tfs.get("ToBatch"), ToBatch):
        pre_tfs["ToBatch"] = _LeanBatch(pre_tfs["ToBatch"])
    if isinstance(getattr(predictor, "post_op", None), CTCLabelDecode):
        predictor.post_op = _LeanCtcDecode(predictor.post_op)


class _PerLineTopk:
    """PaddleX's top-k step of a classifier, returning one row of class ids
    per image.

    PaddleX 3.7.2's own ``Topk`` returns the batch's class ids as one
    (images x k) array, and its predictor splits a batch's results into
    per-image results only where they are lists: every image gets the whole
    array.  PaddleOCR's pipeline reads a line's angle as that array's first
    element, so every line of a text-line orientation batch (6 lines) took
    the first line's angle: upside-down lines behind an upright one were
    read upside down, and one upright line taken for upside down turned the
    five after it too.  A list of rows is split per image as intended.
    """

    def __init__(self, topk):
        self._topk = topk

    def __call__(self, preds, *args, **kwargs):
        indexes, scores, labels = self._topk(preds, *args, **kwargs)
        return list(indexes), scores, labels

    def __getattr__(self, name):
        return getattr(self._topk, name)


def per_line_classes(classifier) -> bool:
    """Give a PaddleX image classifier :class:`_PerLineTopk`; False where
    it is laid out differently (then left as it is)."""
    post = getattr(classifier, "postprocessors", None)
    if not isinstance(post, dict) or "Topk" not in post:
        return False
    if not isinstance(post["Topk"], _PerLineTopk):
        post["Topk"] = _PerLineTopk(post["Topk"])
    return True


#: Lines read as this many characters or fewer are always classified by
#: :class:`_GatedLineOrientation`: short digit strings read upside down can
#: score high ("8.9" flipped reads "68" at 0.95).
GATE_SHORT_LINE_CHARS = 3


class _ReadAhead:
    """The pipeline's recogniser, answering from lines already read.

    :class:`_GatedLineOrientation` reads every line of a page before the
    pipeline asks for its orientation; the pipeline then passes the lines the
    classifier left as they were (the same array objects: PaddleX's
    ``rotate_image`` returns its input at 0 degrees) to this recogniser,
    which hands back those reads and reads only the rest (the lines turned
    by 180 degrees) with the real model.
    """

    def __init__(self, model):
        self._model = model
        self._reads: dict[int, tuple[Any, Any]] = {}

    def read_ahead(self, imgs) -> list:
        """Read ``imgs`` (as the pipeline does: in order of width/height,
        so batches hold the same lines) and remember the reads."""
        self._reads = {}
        order = sorted(
            range(len(imgs)), key=lambda i: imgs[i].shape[1] / imgs[i].shape[0]
        )
        reads: list = [None] * len(imgs)
        if imgs:
            for i, res in zip(
                order, self._model([imgs[i] for i in order]), strict=True
            ):
                reads[i] = res
                self._reads[id(imgs[i])] = (imgs[i], res)
        return reads

    def __call__(self, imgs, *args, **kwargs):
        # The reads are kept until the next read_ahead: a batch of pages is
        # classified at once, then read page by page.  An entry answers only
        # for the very array it was read from (kept alive with it).
        if args or kwargs.get("return_word_box"):
            yield from self._model(imgs, *args, **kwargs)
            return
        known = []
        for img in imgs:
            hit = self._reads.get(id(img))
            known.append(hit[1] if hit is not None and hit[0] is img else None)
        rest = [img for img, res in zip(imgs, known, strict=True) if res is None]
        fresh = iter(self._model(rest, **kwargs) if rest else ())
        for res in known:
            yield res if res is not None else next(fresh)

    def __getattr__(self, name):
        return getattr(self._model, name)


class _GatedLineOrientation:
    """The pipeline's text-line orientation step, run only on the lines that
    need it.

    PaddleOCR classifies every line as 0 or 180 degrees before it reads it,
    a share of every page's time.  Upright lines read cleanly with high
    scores; upside-down ones read with low scores, or as a few characters
    (``python bench/line_orientation.py`` measures both on real pages).  So
    this step reads every line first (:class:`_ReadAhead` keeps the reads for the
    pipeline's recognition step) and classifies only the lines read with a
    score below ``below_score`` or as ``GATE_SHORT_LINE_CHARS`` characters
    or fewer; the others are reported upright (angle 0).  A line the
    classifier turns is read again, turned, as PaddleOCR would.
    """

    def __init__(self, classifier, reader: _ReadAhead, below_score: float):
        self._classifier = classifier
        self._reader = reader
        self.below_score = below_score
        #: Lines seen and lines classified since the engine started.
        self.lines = 0
        self.classified = 0

    def __call__(self, imgs, *args, **kwargs):
        imgs = list(imgs)
        reads = self._reader.read_ahead(imgs)
        doubtful = [
            i
            for i, res in enumerate(reads)
            if res["rec_score"] < self.below_score
            or len(res["rec_text"]) <= GATE_SHORT_LINE_CHARS
        ]
        verdicts: list = [{"class_ids": [0]} for _ in imgs]
        if doubtful:
            classified = self._classifier([imgs[i] for i in doubtful], *args, **kwargs)
            for i, verdict in zip(doubtful, classified, strict=True):
                verdicts[i] = verdict
        self.lines += len(imgs)
        self.classified += len(doubtful)
        return verdicts

    def __getattr__(self, name):
        return getattr(self._classifier, name)


def gate_textline_orientation(pipeline, below_score: Optional[float]):
    """Run a ``paddleocr.PaddleOCR``'s text-line orientation only on lines
    read with a score below ``below_score`` (:class:`_GatedLineOrientation`);
    returns the gate, or None (``below_score`` None, or the pipeline has no
    text-line orientation model).

    Raises:
        RuntimeError: this PaddleOCR release is laid out differently.
    """
    if below_score is None:
        return None
    try:
        inner = _paddlex_ocr(pipeline)
        if not inner.use_textline_orientation:
            return None
        classifier, reader = inner.textline_orientation_model, inner.text_rec_model
    except AttributeError as exc:
        raise RuntimeError(
            "ocr.textlineOrientationBelowScore needs PaddleOCR 3.7's pipeline "
            f"layout ({exc!r}); set textlineOrientationBelowScore: null"
        ) from exc
    if isinstance(classifier, _GatedLineOrientation):
        classifier.below_score = below_score
        return classifier
    reader = _ReadAhead(reader)
    gate = _GatedLineOrientation(classifier, reader, below_score)
    inner.text_rec_model = reader
    inner.textline_orientation_model = gate
    return gate


def apply(pipeline, rec_width_scale: float, textline_below_score: Optional[float]):
    """Make ocrbeam's changes to a freshly built ``paddleocr.PaddleOCR``:
    lines narrowed by ``rec_width_scale``, text-line orientation per line and
    gated by ``textline_below_score`` (None: every line, as PaddleOCR does),
    and the recogniser's lean batching and decoding."""
    narrow_text_lines(pipeline, rec_width_scale)
    inner = _paddlex_ocr(pipeline)
    if inner is not None and hasattr(inner, "text_rec_model"):
        lean_recognizer(inner.text_rec_model)
    if getattr(inner, "use_textline_orientation", False):
        if not per_line_classes(inner.textline_orientation_model):
            raise RuntimeError(
                "text-line orientation needs PaddleX 3.7's classifier layout "
                "(its batches would give every line the first line's angle); "
                "set useTextlineOrientation: false"
            )
    gate_textline_orientation(pipeline, textline_below_score)
    return pipeline
