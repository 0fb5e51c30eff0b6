from ocrbeam.text.quality import cer, edit_distance, word_f1


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
