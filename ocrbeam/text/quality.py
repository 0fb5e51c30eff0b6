"""Text-quality measures shared by the tests and bench/: CER (of the page,
and line by line) and word F1.

>>> round(cer("hello world", "hello word"), 3)
0.091
>>> word_f1("b a", "a b")
1.0
"""

from __future__ import annotations

import re
from collections import Counter


def normalize(text: str) -> str:
    """Collapse all whitespace to single spaces and strip."""
    return re.sub(r"\s+", " ", text).strip()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions).

    Myers' bit-parallel algorithm (in Hyyrö's formulation for edit distance):
    one pass over ``b`` with Python integers as bit vectors as long as ``a``,
    so whole pages (thousands of characters) take milliseconds.
    """
    return _myers(a, b, search=False)


def substring_distance(pattern: str, text: str) -> int:
    """The fewest edits that turn ``pattern`` into some substring of ``text``
    (approximate matching: where in ``text`` the match starts and ends is
    free).

    >>> substring_distance("world", "hello wrld again")
    1
    """
    return _myers(pattern, text, search=True)


def _myers(a: str, b: str, search: bool) -> int:
    """Edit distance of ``a`` to ``b`` (``search``: to the best substring of
    ``b``, Myers 1999: the top row of the table is zero, so a match may start
    anywhere, and the best score over all end positions is kept)."""
    if not a:
        return 0 if search else len(b)
    if not b:
        return len(a)
    m = len(a)
    full = (1 << m) - 1
    last = 1 << (m - 1)
    carry = 0 if search else 1
    peq: dict[str, int] = {}
    for i, ch in enumerate(a):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    pv, mv, score = full, 0, m
    best = m
    for ch in b:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & full)
        mh = pv & xh
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
            best = min(best, score)
        ph = ((ph << 1) | carry) & full
        mh = (mh << 1) & full
        pv = mh | (~(xv | ph) & full)
        mv = ph & xv
    return best if search else score


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edits / reference length (order-sensitive)."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def line_cer(reference: str, hypothesis: str) -> float:
    """Character error rate line by line, whatever the order of the lines.

    Each line of ``reference`` is matched to its best stretch of
    ``hypothesis`` (:func:`substring_distance`); the edits of all lines over
    their characters.  Order-sensitive within a line, free between lines, so
    a table read column by column and a page read row by row score alike on
    what was read; words that were not in the reference (read twice, or
    invented) cost nothing here: word F1 counts them.
    """
    lines = [normalize(line) for line in reference.splitlines()]
    lines = [line for line in lines if line]
    hyp = normalize(hypothesis)
    total = sum(len(line) for line in lines)
    if not total:
        return 0.0 if not hyp else 1.0
    return sum(substring_distance(line, hyp) for line in lines) / total


def word_f1(reference: str, hypothesis: str) -> float:
    """F1 of the multisets of words (order-free)."""
    ref = Counter(normalize(reference).split())
    hyp = Counter(normalize(hypothesis).split())
    if not ref and not hyp:
        return 1.0
    overlap = sum((ref & hyp).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(hyp.values())
    recall = overlap / sum(ref.values())
    return 2 * precision * recall / (precision + recall)
