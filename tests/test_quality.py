import pytest

from ocrbeam.text.quality import (
    cer,
    edit_distance,
    line_cer,
    substring_distance,
    word_f1,
)


def test_edit_distance():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3


def test_cer_is_order_sensitive_and_word_f1_is_not():
    assert cer("a b c", "a b c") == 0.0
    assert cer("alpha beta", "beta alpha") > 0.5
    assert word_f1("alpha beta", "beta alpha") == 1.0
    assert word_f1("alpha", "gamma") == 0.0
    assert cer("", "") == 0.0 and cer("", "x") == 1.0


def _dp(pattern: str, text: str, substring: bool) -> int:
    """The textbook dynamic programme: edit distance, or (``substring``) the
    distance of ``pattern`` to its best-matching stretch of ``text``."""
    # A substring match may start anywhere in text, and end anywhere.
    previous = [0] * (len(text) + 1) if substring else list(range(len(text) + 1))
    for i, cp in enumerate(pattern, 1):
        current = [i]
        for j, ct in enumerate(text, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (cp != ct))
            )
        previous = current
    return min(previous) if substring else previous[-1]


@pytest.mark.parametrize(
    ("fast", "substring"), [(edit_distance, False), (substring_distance, True)]
)
def test_bit_parallel_distances_equal_the_textbook_ones(fast, substring):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(
        st.text(alphabet="abcde ", max_size=40), st.text(alphabet="abcde ", max_size=40)
    )
    def check(a, b):
        assert fast(a, b) == _dp(a, b, substring)

    check()


def test_line_cer_is_free_between_lines_and_strict_within_them():
    truth = "Name Type\nQIBM_DB_SQLADM VARCHAR(255)"
    # Lines in another order, each read right: no error.
    assert line_cer(truth, "QIBM_DB_SQLADM VARCHAR(255) Name Type") == 0.0
    # One character lost in a line: one edit over the lines' characters.
    assert line_cer(truth, "Name Type QIBM_DB_SQLADM VARCHAR255)") == 1 / 36
    # A line not read at all: all its characters (but the space it can
    # borrow from the other line).
    assert line_cer(truth, "Name Type") == 26 / 36
    # Words within a line in the wrong order do cost (unlike word F1).
    assert line_cer("alpha beta", "beta alpha") > 0.3
    assert line_cer("", "") == 0.0 and line_cer("", "x") == 1.0
