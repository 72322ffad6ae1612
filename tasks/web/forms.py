"""Forms of the task pages. The files themselves are checked in services.tasks_create."""

import functools

from django import forms
from django.conf import settings

from tasks import services
from tasks.intake import documents

def engine_choices():
    """Each engine with its one-line trade-off (tasks.ocr.engines.ENGINE_CHOICES says it)."""
    from tasks.ocr import engines

    described = {name: f"{label} — {trade_off}" for name, label, trade_off in getattr(engines, "ENGINE_CHOICES", ())}
    return [(name, described.get(name, name)) for name in services.engine_names()]


def language_choices(extra: str | None = None):
    """Every language an engine here reads (a missing Tesseract pack is not offered), plus ``extra``
    (e.g. a combination such as zh-Hant+en the user sent through the API) when that is readable too."""
    from tasks.ocr import languages

    tags = languages.all_languages(services.engine_names())
    choices = [(t, languages.label(t)) for t in tags]
    if extra and "+" in extra and all(t in tags for t in extra.split("+")):
        choices.append((extra, languages.label(extra)))
    return choices


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class UploadForm(forms.Form):
    # Rendered for the page; the view reads the files itself (tasks.intake.uploads), so that one bad
    # file gets its own message while the good ones are still taken.
    files = forms.FileField(
        label="Files to read", required=False,
        widget=MultipleFileInput(attrs={"multiple": True, "accept": "image/*,application/pdf,.tif,.tiff"}))
    # image/* (not a list of image types) so phones offer the camera as well as their files.
    engine = forms.ChoiceField(label="OCR engine", widget=forms.RadioSelect, required=False)
    language = forms.ChoiceField(label="Language of the documents", required=False,
                                 help_text="Tesseract reads every language listed; EasyOCR reads English only.")

    def __init__(self, *args, last_language: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["engine"].choices = engine_choices()
        self.fields["engine"].initial = settings.OCR_ENGINE
        self.fields["language"].choices = language_choices(last_language)
        offered = {code for code, _ in self.fields["language"].choices}
        self.fields["language"].initial = last_language if last_language in offered else settings.OCR_DEFAULT_LANGUAGE
        self.fields["files"].help_text = (f"{documents.ACCEPTED}; up to {settings.MAX_UPLOAD_MB} MB and "
                                          f"{settings.MAX_PAGES} pages each. Each file becomes its own task.")


class RetryForm(forms.Form):
    """Run again with…: the engine and language of the new run, the task's own preselected."""

    engine = forms.ChoiceField(label="Engine for the new run", widget=forms.RadioSelect)
    language = forms.ChoiceField(label="Language", required=False)

    def __init__(self, *args, task=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["engine"].choices = engine_choices()
        self.fields["language"].choices = language_choices(task.language if task is not None else None)
        if task is not None:
            self.fields["engine"].initial = task.engine
            if task.language not in dict(self.fields["language"].choices):
                # Assigned, not appended: the widget keeps its own copy of the choices it was given.
                self.fields["language"].choices = [*self.fields["language"].choices, (task.language, task.language)]
            self.fields["language"].initial = task.language

    def field_html(self) -> dict:
        """{"engine": each radio's HTML, "language": the select's HTML}, for the task page.

        Drawing the widgets through their templates was about a fifth of the task page's CPU. An unbound
        form's HTML follows from its choices and initial values alone, so it is kept per process for each.
        """
        if self.is_bound:
            return {"engine": [str(radio) for radio in self["engine"]], "language": str(self["language"])}
        engine, language = self.fields["engine"], self.fields["language"]
        return _unbound_field_html(tuple(engine.choices), tuple(language.choices), engine.initial, language.initial)


@functools.lru_cache(maxsize=256)
def _unbound_field_html(engine_choices, language_choices, engine, language) -> dict:
    form = RetryForm()
    form.fields["engine"].choices, form.fields["engine"].initial = list(engine_choices), engine
    form.fields["language"].choices, form.fields["language"].initial = list(language_choices), language
    return {"engine": tuple(str(radio) for radio in form["engine"]), "language": str(form["language"])}
