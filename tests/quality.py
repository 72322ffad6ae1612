"""Character error rate against ground truth, after folding what pdftotext and OCR render differently.

The ground truth (see shared/data/README.md) is `pdftotext -layout`: its column spacing, its TeX
underscores printed as spaces, its curly quotes and ligatures are not OCR errors, so both sides
are normalised the same way before comparing.
"""

import re
import unicodedata

from rapidfuzz.distance import Levenshtein

_FOLD = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "_": " ",
})
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC (splits ligatures such as "ﬁ"), straight quotes and dashes, `_` as a space, single spaces."""
    # Fold before NFKC too: NFKC turns an acute accent into a space and a combining mark.
    text = unicodedata.normalize("NFKC", (text or "").translate(_FOLD)).translate(_FOLD)
    return _SPACE.sub(" ", text).strip()


def cer(hypothesis: str, truth: str) -> float:
    """Levenshtein distance / length of the truth, both normalised; 0.0 is perfect, can exceed 1."""
    hyp, ref = normalize(hypothesis), normalize(truth)
    if not ref:
        return 0.0 if not hyp else 1.0
    return Levenshtein.distance(hyp, ref) / len(ref)
