"""Text normalisation and character error rate (tests/quality.py)."""

import pytest

from tests.quality import cer, normalize

pytestmark = pytest.mark.db_independent  # text arithmetic, no database


@pytest.mark.parametrize("raw, expected", [
    ("  a\t b\n\n c \f", "a b c"),                    # pdftotext -layout columns, page breaks
    ("asn1_create_element", "asn1 create element"),  # TeX underscores that pdftotext prints as spaces
    ("\u2018x\u2019 \u201cy\u201d `z\u00b4", "'x' \"y\" 'z'"),
    ("\ufb01le \ufb02ow \ufb00ect", "file flow ffect"),  # ligatures
    ("a\u2013b\u2014c\u2212d", "a-b-c-d"),
    ("", ""),
])
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_cer_is_zero_for_layout_only_differences():
    truth = "Returns: ASN1_SUCCESS  if\n   the \u2018file\u2019 is \ufb01ne"
    assert cer("Returns: ASN1 SUCCESS if the 'file' is fine", truth) == 0.0


def test_cer_counts_edits_over_truth_length():
    assert cer("abcd", "abcd") == 0.0
    assert cer("abxd", "abcd") == pytest.approx(0.25)   # one substitution
    assert cer("abd", "abcd") == pytest.approx(0.25)    # one deletion
    assert cer("abcde", "abcd") == pytest.approx(0.25)  # one insertion
    assert cer("", "abcd") == 1.0
    assert cer("a much longer hypothesis", "ab") > 1.0  # not capped: garbage must look bad


def test_cer_with_empty_truth():
    assert cer("", "  \n") == 0.0
    assert cer("text", "") == 1.0
