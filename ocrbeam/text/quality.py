"""Text-quality measures shared by the tests and bench/: CER and word F1.

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
    if not a:
        return len(b)
    if not b:
        return len(a)
    m = len(a)
    full = (1 << m) - 1
    last = 1 << (m - 1)
    peq: dict[str, int] = {}
    for i, ch in enumerate(a):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    pv, mv, score = full, 0, m
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
        ph = ((ph << 1) | 1) & full
        mh = (mh << 1) & full
        pv = mh | (~(xv | ph) & full)
        mv = ph & xv
    return score


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edits / reference length (order-sensitive)."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


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
