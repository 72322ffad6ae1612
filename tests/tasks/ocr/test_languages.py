"""Languages for real: BCP 47 tags, what this installation reads, the options endpoint, engine choice, the form.

Upload checks here refuse before any OCR runs (no real engine needed). The installed Tesseract packs are
the real ones (`tesseract --list-langs`, scripts/system_deps.sh installs them); one test hides a pack to
show that a missing pack is never offered.
"""

import pytest
from django.core.files.storage import default_storage

from tasks.models import Task
from tasks.ocr import languages
from tasks.ocr.engines import engines_for
from tests.tasks.history_helpers import make_task, png_upload, signed_in

ALL = ["en", "de", "fr", "es", "it", "pt", "nl", "zh-Hant", "zh-Hans", "ja", "ko"]


@pytest.fixture
def api(client, user_a):
    return signed_in(client, user_a)


@pytest.fixture
def without_korean(monkeypatch):
    """As on a machine where tesseract-ocr-kor is not installed."""
    installed = languages.tesseract_installed() - {"kor"}
    monkeypatch.setattr(languages, "tesseract_installed", lambda: installed)


# --- tags ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("en", ["en"]), ("EN-us", ["en"]), ("pt-BR", ["pt"]), ("zh-Hant", ["zh-Hant"]), ("zh-hant", ["zh-Hant"]),
    ("zh-TW", ["zh-Hant"]), ("zh-HK", ["zh-Hant"]), ("zh-CN", ["zh-Hans"]), ("zh_Hans", ["zh-Hans"]),
    ("zh-Hant+en", ["zh-Hant", "en"]), ("en+EN+de", ["en", "de"]), ("ja", ["ja"]), ("ko-KR", ["ko"]),
])
def test_tags_are_read_in_their_canonical_spelling(raw, expected):
    assert languages.parse(raw) == expected


@pytest.mark.parametrize("raw", ["", "+", "en+", "english", "e", "x-klingon", "tlh", "en de", "de+fr+es+it+nl"])
def test_bad_tags_are_refused_with_a_reason(raw):
    with pytest.raises(languages.LanguageError) as exc:
        languages.parse(raw)
    assert str(exc.value)


def test_the_installation_reads_the_company_languages_with_tesseract_and_english_with_easyocr():
    assert languages.engine_languages("tesseract") == ALL  # scripts/system_deps.sh installs the packs
    assert languages.engine_languages("easyocr") == ["en"]
    assert engines_for("zh-Hant+en") == ["tesseract"]
    assert engines_for("en") == ["easyocr", "tesseract"]
    assert languages.tesseract_codes("zh-Hant+en") == "chi_tra+eng"


def test_no_stray_spaces_between_chinese_or_japanese_characters():
    assert languages.join_words(["陳", "美玲", "經理"]) == "陳美玲經理"
    assert languages.join_words(["期間", ",", "請"]) == "期間，請"
    assert languages.join_words(["東京", "の", "会議", "OCR", "test"]) == "東京の会議 OCR test"
    assert languages.join_words(["한국어", "텍스트"]) == "한국어 텍스트"  # Korean keeps its spaces
    assert languages.join_words(["plain", "English,", "words"]) == "plain English, words"


# --- GET /api/v1/ocr/options -------------------------------------------------------------

@pytest.mark.django_db
def test_options_say_what_this_installation_reads(api, settings):
    body = api.get("/api/v1/ocr/options").json()
    assert body["default_engine"] == settings.OCR_ENGINE and body["default_language"] == "en"
    by_name = {e["name"]: e for e in body["engines"]}
    assert [l["code"] for l in by_name["tesseract"]["languages"]] == ALL
    assert by_name["easyocr"]["languages"] == [{"code": "en", "label": "English"}]
    assert {"code": "zh-Hant", "label": "Chinese (Traditional)"} in by_name["tesseract"]["languages"]
    assert all(set(e) == {"name", "label", "languages"} for e in body["engines"])


@pytest.mark.django_db
def test_options_never_offer_a_missing_pack(api, without_korean):
    tesseract = next(e for e in api.get("/api/v1/ocr/options").json()["engines"] if e["name"] == "tesseract")
    assert "ko" not in [l["code"] for l in tesseract["languages"]]


@pytest.mark.django_db
def test_options_need_a_sign_in(client):
    assert client.get("/api/v1/ocr/options").status_code == 401


# --- uploads with a language --------------------------------------------------------------

@pytest.mark.django_db
def test_a_language_is_stored_canonically_and_without_engine_one_that_reads_it_is_chosen(api, user_a, settings):
    settings.OCR_ENGINE = "easyocr"
    r = api.post("/api/v1/tasks", {"files": png_upload(), "language": "zh-tw+EN"})
    assert r.status_code == 201, r.content
    task = r.json()["tasks"][0]
    assert (task["language"], task["engine"]) == ("zh-Hant+en", "tesseract")  # EasyOCR reads English only
    r = api.post("/api/v1/tasks", {"files": png_upload(), "language": "en"})
    assert (r.json()["tasks"][0]["language"], r.json()["tasks"][0]["engine"]) == ("en", "easyocr")


@pytest.mark.django_db
@pytest.mark.parametrize("language, says", [
    ("tlh", "“tlh” is not a language this tool knows: choose one of en, de, fr"),
    ("ko", "No OCR engine here reads Korean (ko): choose one of en, de"),
    ("english", "“english” is not a language tag"),
])
def test_a_language_nothing_reads_is_400_with_the_choices_and_nothing_is_kept(api, user_a, without_korean,
                                                                              language, says):
    r = api.post("/api/v1/tasks", {"files": png_upload(), "language": language})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "invalid_language" and error["message"].startswith(says)
    assert error["details"]["choices"] == [t for t in ALL if t != "ko"]
    assert error["details"]["engines"]["easyocr"] == ["en"]
    assert "ko" not in error["details"]["engines"]["tesseract"]
    assert Task.objects.count() == 0 and not default_storage.exists(str(user_a.id))


@pytest.mark.django_db
def test_an_engine_that_does_not_read_the_language_is_400(api, user_a):
    r = api.post("/api/v1/tasks", {"files": png_upload(), "language": "de", "engine": "easyocr"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "invalid_language"
    assert error["message"] == "EasyOCR does not read German on this server: choose Tesseract, or another language."
    assert error["details"]["engines"] == {"easyocr": ["en"], "tesseract": ALL}
    assert Task.objects.count() == 0


@pytest.mark.django_db
def test_retry_with_an_engine_that_does_not_read_the_task_language_is_400(api, user_a):
    task = make_task(user_a, status="failed", engine="tesseract", language="ja")
    r = api.post(f"/api/v1/tasks/{task.id}/retry", {"engine": "easyocr"}, content_type="application/json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_language"
    task.refresh_from_db()
    assert (task.status, task.engine, task.retry_count) == ("failed", "tesseract", 0)


# --- the upload form ----------------------------------------------------------------------

@pytest.mark.django_db
def test_the_form_offers_the_languages_beside_the_engine_and_remembers_the_last_one(client, user_a):
    page = signed_in(client, user_a).get("/")
    html = page.content.decode()
    assert 'name="language"' in html and '<option value="zh-Hant"' in html
    assert '<option value="en" selected>' in html  # nothing uploaded yet: the default
    r = client.post("/", {"files": png_upload(), "language": "de", "engine": "tesseract"})
    assert r.status_code == 302
    assert Task.objects.get().language == "de"
    assert '<option value="de" selected>' in client.get("/").content.decode()


@pytest.mark.django_db
def test_the_form_refuses_a_language_the_chosen_engine_does_not_read(client, user_a):
    signed_in(client, user_a)
    r = client.post("/", {"files": png_upload(), "language": "ja", "engine": "easyocr"})
    assert r.status_code == 400
    assert "EasyOCR does not read Japanese on this server" in r.content.decode()
    assert Task.objects.count() == 0
    assert '<option value="ja" selected>' in r.content.decode()  # the choice is kept for the next try


@pytest.mark.django_db
def test_the_form_does_not_offer_a_missing_pack(client, user_a, without_korean):
    assert '<option value="ko"' not in signed_in(client, user_a).get("/").content.decode()

