"""Document-structure scores of a document's markdown against its truth:
headings, tables (TEDS), reading order of blocks and the words kept.

Pure functions over strings, used by bench/structure_eval.py and the tests.

* **Headings**: markdown lines starting with ``#``.  A found heading matches
  a true one when their texts agree (numbering punctuation and case aside,
  normalised edit similarity >= 0.8), one to one, best pairs first.
  Precision, recall and F1 count matches; *level accuracy* is the share of
  matched headings at the true level, each side's levels counted from its
  document's shallowest heading (a document whose title is ``#`` and
  sections ``##`` reads the same as one with sections at ``#``).
* **Tables**: ``<table>`` elements.  Each true table is paired with the
  found table of the highest TEDS (one to one, best pairs first; a pair
  needs TEDS >= 0.2 to count as the same table).  Detection precision and
  recall count pairs; TEDS and TEDS-S (structure only) are the means over
  the *true* tables, an unfound table scoring 0.  TEDS is
  table-recognition-metric's (IBM's definition on apted).
* **Reading order**: the true blocks (paragraphs, list items, headings)
  found in the output by their first words, in order; the score is the
  share of block pairs the output puts in the true order (Kendall's tau
  mapped to 0..1).
* **Markdown word recall**: the share of the words the engine read (the
  page's ``rec_texts``; its header, footer and page-number blocks aside)
  that are in its markdown, as multisets: a word read and then left out of
  the markdown is a word lost.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

_TAG = re.compile(r"<[^>]+>")
_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
_TABLE = re.compile(r"<table\b.*?</table>", re.S | re.I)


def words(text: str) -> list[str]:
    """Words of plain text or markdown, lower-cased, with markup (HTML tags,
    ``#``, list bullets, table pipes, image links) and the punctuation
    around words removed."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", text)
    text = html.unescape(_TAG.sub(" ", text))
    # A list number printed against its word ("2.Second") is two words.
    text = re.sub(r"(?<![\w.])(\d{1,3}[.)])(?=[^\W\d_])", r"\1 ", text)
    out = []
    for token in text.split():
        token = token.strip("#*_|`>[](){}.,;:!?\"'“”‘’•▪◦·-–—☐☑☒□■").lower()
        if token:
            out.append(token)
    return out


def _norm_heading(text: str) -> str:
    return " ".join(words(text))


def _similarity(a: str, b: str) -> float:
    from ocrbeam.text.quality import edit_distance

    if not a and not b:
        return 1.0
    return 1.0 - edit_distance(a, b) / max(len(a), len(b))


def headings(markdown: str) -> list[tuple[str, int]]:
    """``(text, level)`` of the markdown's ``#`` headings, in order."""
    out = []
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        found = None if in_code else _HEADING.match(line)
        if found:
            out.append((found.group(2), len(found.group(1))))
    return out


def _greedy(scores: Sequence[Sequence[float]], floor: float) -> list[tuple[int, int]]:
    pairs = sorted(
        ((s, i, j) for i, row in enumerate(scores) for j, s in enumerate(row)),
        reverse=True,
    )
    used_i: set[int] = set()
    used_j: set[int] = set()
    out = []
    for s, i, j in pairs:
        if s < floor or i in used_i or j in used_j:
            continue
        used_i.add(i)
        used_j.add(j)
        out.append((i, j))
    return out


def heading_scores(
    truth: Sequence[tuple[str, int]], found: Sequence[tuple[str, int]]
) -> dict[str, Any]:
    """Counts for precision/recall and the level agreement of matches."""
    t_norm = [_norm_heading(t) for t, _ in truth]
    f_norm = [_norm_heading(f) for f, _ in found]
    scores = [[_similarity(a, b) for b in f_norm] for a in t_norm]
    pairs = _greedy(scores, 0.8)
    t_min = min((lvl for _, lvl in truth), default=1)
    f_min = min((lvl for _, lvl in found), default=1)
    level_ok = sum(truth[i][1] - t_min == found[j][1] - f_min for i, j in pairs)
    return {
        "true": len(truth),
        "found": len(found),
        "matched": len(pairs),
        "level_ok": level_ok,
        "missed": [
            truth[i][0] for i in range(len(truth)) if i not in {p[0] for p in pairs}
        ],
        "spurious": [
            found[j][0] for j in range(len(found)) if j not in {p[1] for p in pairs}
        ],
    }


def tables(markdown: str) -> list[str]:
    """The ``<table>`` elements of a markdown text."""
    return _TABLE.findall(markdown)


def _clean_table(markup: str) -> str:
    markup = re.sub(
        r"</?(thead|tbody|tfoot|b|i|strong|em|code|span|p|br)\b[^>]*>", " ", markup
    )
    markup = re.sub(r"<th\b", "<td", markup)
    markup = markup.replace("</th>", "</td>")
    # Whitespace inside cells is not structure: collapse it.
    markup = re.sub(r"\s+", " ", markup)
    return f"<html><body>{markup}</body></html>"


@cache
def _teds(structure_only: bool):
    from table_recognition_metric import TEDS

    return TEDS(structure_only=structure_only)


def teds(found: str, truth: str, structure_only: bool = False) -> float:
    """TEDS (or TEDS-S) of one found table against one true table."""
    return float(_teds(structure_only)(_clean_table(found), _clean_table(truth)))


def table_scores(truth: Sequence[str], found: Sequence[str]) -> dict[str, Any]:
    """Pairs found tables with true ones; per true table TEDS and TEDS-S."""
    full = [[teds(f, t) for f in found] for t in truth]
    pairs = _greedy(full, 0.2)
    by_truth = dict(pairs)
    per_table = []
    for i, t in enumerate(truth):
        j = by_truth.get(i)
        per_table.append(
            {
                "teds": round(full[i][j], 4) if j is not None else 0.0,
                "teds_s": round(teds(found[j], t, True), 4) if j is not None else 0.0,
            }
        )
    return {
        "true": len(truth),
        "found": len(found),
        "matched": len(pairs),
        "per_table": per_table,
    }


def order_score(blocks: Sequence[str], markdown: str) -> tuple[int, int]:
    """``(concordant pairs, pairs)`` of the true ``blocks`` found in
    ``markdown`` (each by its first words, at most five)."""
    out_words = words(markdown)
    text = " " + " ".join(out_words) + " "
    positions = []
    for block in blocks:
        key = words(block)[:5]
        if len(key) < 2:
            continue
        at = text.find(" " + " ".join(key) + " ")
        if at >= 0:
            positions.append(at)
    pairs = concordant = 0
    for a in range(len(positions)):
        for b in range(a + 1, len(positions)):
            pairs += 1
            concordant += positions[a] < positions[b]
    return concordant, pairs


#: Blocks whose words stay out of the markdown by design.
FURNITURE = {"header", "footer", "number"}


def markdown_word_recall(
    text: str, markdown: str, blocks: Iterable[Mapping[str, Any]] = ()
) -> tuple[int, int, list[str]]:
    """``(kept, of, lost words)``: the words of ``text`` (less those of the
    furniture ``blocks``) found in ``markdown``, as multisets."""
    want = Counter(words(text))
    for block in blocks:
        if block.get("block_label") in FURNITURE:
            want -= Counter(words(str(block.get("block_content") or "")))
    have = Counter(words(markdown))
    # A word broken at a line's end ("con-" / "tinues") is kept whole.
    lines = text.splitlines()
    for line, after in zip(lines, lines[1:], strict=False):
        head, tail = words(line), words(after)
        if line.rstrip().endswith("-") and head and tail:
            if have[head[-1] + tail[0]]:
                have += Counter([head[-1], tail[0]])
    lost = want - have
    total = sum(want.values())
    return total - sum(lost.values()), total, sorted(lost.elements())


def word_counts(truth: str, found: str) -> tuple[int, int, int]:
    """``(common, in truth, in found)`` word multisets, for word F1 of the
    markdown against the true markdown."""
    t, f = Counter(words(truth)), Counter(words(found))
    return sum((t & f).values()), sum(t.values()), sum(f.values())


def cells_html(cells: Iterable[Mapping[str, Any]], rows: int) -> str:
    """A table's HTML from cells with ``row``, ``col``, ``rowspan``,
    ``colspan`` and ``text`` (each spanning cell once, at its first row and
    column)."""
    by_row: dict[int, list[Mapping[str, Any]]] = {r: [] for r in range(rows)}
    for cell in cells:
        by_row[cell["row"]].append(cell)
    out = ["<table>"]
    for r in range(rows):
        out.append("<tr>")
        for cell in sorted(by_row[r], key=lambda c: c["col"]):
            attrs = ""
            if cell.get("rowspan", 1) > 1:
                attrs += f' rowspan="{cell["rowspan"]}"'
            if cell.get("colspan", 1) > 1:
                attrs += f' colspan="{cell["colspan"]}"'
            out.append(f"<td{attrs}>{html.escape(cell['text'])}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)
