from ocrbeam.transforms.quality import cer, edit_distance, word_f1


def test_edit_distance():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3


def test_cer_is_order_sensitive_and_word_f1_is_not():
    assert cer("a b c", "a b c") == 0.0
    assert cer("alpha beta", "beta alpha") > 0.5
    assert word_f1("alpha beta", "beta alpha") == 1.0
    assert word_f1("alpha", "gamma") == 0.0
    assert cer("", "") == 0.0 and cer("", "x") == 1.0
