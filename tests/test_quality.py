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


def _dp_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            )
        previous = current
    return previous[-1]


def test_bit_parallel_distance_equals_the_textbook_one():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(
        st.text(alphabet="abcde ", max_size=40), st.text(alphabet="abcde ", max_size=40)
    )
    def check(a, b):
        assert edit_distance(a, b) == _dp_distance(a, b)

    check()


def _dp_substring_distance(pattern: str, text: str) -> int:
    previous = [0] * (len(text) + 1)  # a match may start anywhere in text
    for i, cp in enumerate(pattern, 1):
        current = [i]
        for j, ct in enumerate(text, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (cp != ct))
            )
        previous = current
    return min(previous)  # ... and end anywhere


def test_bit_parallel_substring_distance_equals_the_textbook_one():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(
        st.text(alphabet="abcde ", max_size=40), st.text(alphabet="abcde ", max_size=40)
    )
    def check(a, b):
        assert substring_distance(a, b) == _dp_substring_distance(a, b)

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
