"""Text of a page and of a document: pure functions over recognised lines.

No Beam and no models here: lines with boxes in, reading order, paragraphs,
markdown and document-level joining out; plus the text-quality measures
(CER, word F1) the tests and benchmarks score with.

* :mod:`.lines`: ``Line`` and the lines of an engine result;
* :mod:`.order`: reading order (recursive XY-cut);
* :mod:`.markdown`: paragraphs, headings and list items of a page;
* :mod:`.documents`: a document's pages joined, paragraphs continued across
  page breaks;
* :mod:`.quality`: character error rate and word F1.
"""
