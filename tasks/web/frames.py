"""The history list and the task page drawn without the template engine: their frames written out in Python.

After the rows (history_rows), most of a history page's and a task page's CPU was Django's template engine
walking the frame around them (the header, the filters, the pager, the task's status): ~500 template nodes
resolved one variable at a time. Here each of those templates is written out as Python that writes the same
bytes: the same escaping (``_e`` is what ``{{ value }}`` does), the same cached {% url %}, {% static %} and
{% querystring %} answers, the template's own filters, and what the context processors would give (the
user, the messages, the CSRF token, the badge), each read only where the template reads it, so cookies,
``Vary`` and consumed messages come out the same.

It is used only while every template a page is made of has the SHA-256 it was written from (``_DIRECT_FOR``);
an edited template is drawn by the engine (``render`` falls back) and tests/tasks/web/test_frames.py, which
draws many states both ways and compares them byte for byte, fails naming the digest to update.
"""

import hashlib
import html
from functools import lru_cache

from django.conf import settings
from django.contrib.messages import get_messages
from django.middleware.csrf import get_token
from django.shortcuts import render as engine_render
from django.http import HttpResponse
from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import filesizeformat, floatformat, join, pluralize
from django.template.loader import get_template
from django.utils.formats import localize
from django.utils.timezone import template_localtime

from core.templatetags.cached_querystring import querystring
from core.templatetags.cached_static import CachedStaticNode
from core.templatetags.cached_url import reverse_at, where
from tasks.web.context_processors import badge_context
from tasks.web.history_rows import engine_filter

# sha256 of each template as written out below. Edited a template? Write its change out below (the test
# names what differs), then put the digest the test prints here.
_DIRECT_FOR = {
    "base.html": "7d67ec906bf7b44882ab282461127a1b0d5a4f992e6f2992cc626e75882575f4",
    "history/_badge.html": "4f745d10b88d6addacc653e5ff8cc1d621a14d5068a5fdcd9421e9404e9c612a",
    "history/list.html": "d4ab570cfea48e8a1bd3b891c114976b82d4c6c92c9c82889d1c53f9937c03b2",
    "history/_state.html": "7c2cc2086a271625b862c6f8954725840cadecdb60c0c34947bea169e15e34fa",
    "history/_results.html": "fb47452fe7cecd96fb5bf977c82c779b1d1d9d01a633049bf04cc347f3b6b271",
    "tasks/detail.html": "c94ac30c90f477f2ed6cf0dae43ac64f2a9193694c2c4eb154daf6ec48979efc",
    "tasks/_task_status.html": "14f68aeaddecc6011f1930af655d090ae9e8d9f2f4405ae89465a20f3850c36d",
}


def render(request, template_name: str, context: dict) -> HttpResponse:
    """django.shortcuts.render's answer for these pages, drawn directly while their templates are unchanged."""
    drawn = draw(request, template_name, context)
    if drawn is None:
        return engine_render(request, template_name, context)
    return HttpResponse(drawn)


def draw(request, template_name: str, context: dict) -> str | None:
    """The page's HTML, or None when a template it is made of is not the one written out here."""
    drawer, names = _DRAWERS[template_name]
    if not request.user.is_authenticated:  # the pages need a signed-in person; the engine draws anything else
        return None
    if not all(_source_digest(get_template(name).template.source) == _DIRECT_FOR[name] for name in names):
        return None
    return drawer(_Page(request), context)


@lru_cache(maxsize=32)
def _source_digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def _e(value) -> str:
    """``{{ value }}``: localized, made text and escaped unless safe, as the engine's render_value_in_context."""
    if type(value) is int and not settings.USE_THOUSAND_SEPARATOR:
        return str(value)  # localize's answer for an int without grouping, without its three format lookups
    if not isinstance(value, str):
        value = localize(template_localtime(value))
        if not isinstance(value, str):
            value = str(value)
    return value.__html__() if hasattr(value, "__html__") else html.escape(value)


def _static(path: str) -> str:
    return _e(CachedStaticNode.handle_simple(path))


class _Page:
    """What the context processors would give a template, each read when first asked for."""

    def __init__(self, request):
        self.request = request
        self._token = None
        self.where = where()
        try:
            self.current_app = request.current_app  # what {% url %} reverses with
        except AttributeError:
            self.current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)

    def url(self, name: str, *args) -> str:
        return _e(reverse_at(self.where, name, args, self.current_app))

    def token(self) -> str:
        """The CSRF token, one per page as the engine's lazy ``csrf_token`` (asking sets the cookie)."""
        if self._token is None:
            self._token = _e(get_token(self.request))
        return self._token

    def csrf_input(self) -> str:
        return f'<input type="hidden" name="csrfmiddlewaretoken" value="{self.token()}">'

    def querystring(self, **kwargs) -> str:
        return _e(querystring(self, **kwargs))


# --- base.html and history/_badge.html ---------------------------------------------------------------------

def _base(page: _Page, context: dict, *, title: str, content: str) -> str:
    """base.html around ``content`` for a signed-in person (draw() leaves anyone else to the engine)."""
    request, user = page.request, page.request.user
    history = context.get("history_enabled", settings.ENABLE_TASK_HISTORY)
    out = [f'''<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · Tool OCR</title>
  <link rel="stylesheet" href="{_static('css/app.css')}">
  
  <script src="{_static('django_htmx/htmx-2.min.js')}"></script>
  <script src="{_static('js/app.js')}" defer></script>
</head>
<body hx-headers='{{"X-CSRFToken": "{page.token()}"}}' data-signed-in>
<a class="skip-link" href="#main">Skip to main content</a>
<div id="busy-indicator" class="busy-indicator" role="status" aria-live="polite" data-testid="busy-indicator"></div>
<header class="topbar">
  <a class="brand" href="{page.url('tasks:home')}">Tool OCR</a>
  
  <nav class="mainnav">
    <a href="{page.url('tasks:home')}">Upload</a>
    {f'<a href="{page.url("history:list")}">Task History</a>' if history else ''}
    {_badge(page, history)}
  </nav>
  <details class="usermenu">
    <summary><span class="user-name" data-testid="user-name">{_e(user.name)}</span></summary>
    <div class="usermenu-body" data-testid="user-menu">
      <div class="usermenu-line"><strong>{_e(user.name)}</strong></div>
      <div class="usermenu-line muted" data-testid="user-email">{_e(user.email)}</div>
      {f'<div class="usermenu-line" data-testid="user-job-title">{_e(user.job_title)}</div>' if user.job_title else ''}
      {f'<div class="usermenu-line" data-testid="user-office">{_e(user.office_location)}</div>' if user.office_location else ''}
      {'<div class="usermenu-line muted">Local account</div>' if user.auth_source == "local" else ''}
      <div class="usermenu-line"><a href="{page.url('account-tokens')}" data-testid="tokens-link">API tokens</a></div>
      <div class="usermenu-line"><button type="button" class="link" id="notify-toggle" hidden data-testid="notify-toggle">Tell me when a task finishes</button></div>
      ''']
    if history:
        out.append(f'<div class="usermenu-line" id="user-brief-stats" hx-get="{page.url("history:user-stats")}" '
                   f'hx-trigger="toggle from:closest details" hx-swap="innerHTML"><a href="{page.url("history:stats")}">'
                   'Your statistics</a></div>')
    out.append(f'''
      <form method="post" action="{page.url('logout')}">{page.csrf_input()}<button type="submit" class="link" data-testid="sign-out">Sign out</button></form>
    </div>
  </details>
  ''')
    out.append('''
</header>
<main class="container" id="main" tabindex="-1">
  <div id="request-problems" class="request-problems" aria-live="assertive" data-testid="request-problems"></div>
  ''')
    messages = get_messages(request)
    if messages:
        out.append('<ul class="messages">')
        out.extend(f'<li class="msg-{_e(m.tags)}">{_e(m)}</li>' for m in messages)
        out.append("</ul>")
    out.append(f'''
  {content}
</main>
</body>
</html>
''')
    return "".join(out)


def _badge(page: _Page, history_enabled: bool) -> str:
    values = badge_context(page.request.user)
    count = values["active_task_count"]
    href = (page.url("history:list") + "?status=pending&amp;status=processing" if history_enabled
            else page.url("tasks:home"))
    return f'''
<a class="badge{'' if count else ' badge-idle'}" id="active-badge" href="{href}"
   title="Your tasks waiting or running" data-testid="active-badge" data-count="{_e(count)}" data-state="{_e(values['badge_state'])}"
   hx-get="{page.url('history:badge')}" hx-trigger="{'every 3s, ' if count else ''}tasks-changed from:body" hx-swap="outerHTML">{_e(count)} running</a>
'''


# --- history/list.html, history/_state.html, history/_results.html ------------------------------------------

def _history_page(page: _Page, c: dict) -> str:
    filters = c["filters"]
    in_use = filters.q or filters.created_from or filters.created_to or filters.status
    statuses = "".join(
        f'''
      <label><input type="checkbox" name="status" value="{_e(value)}" {'checked' if value in filters.status else ''} data-testid="filter-status-{_e(value)}"> {_e(label)}</label>
      ''' for value, label in c["statuses"])
    content = f'''
<link rel="stylesheet" href="{_static('css/history.css')}">
<script src="{_static('js/history.js')}" defer></script>
<section class="card">
  <div class="history-head">
    <h1>Task History</h1>
    <a href="{page.url('history:stats')}" data-testid="stats-link">Statistics</a>
  </div>
  <p class="muted" data-testid="retention-note">Tasks and their files are kept for {_e(c['retention_days'])} day{_e(pluralize(c['retention_days']))}, then deleted automatically.</p>
  <details class="filter-panel" open{' data-in-use' if in_use else ''}>
  <summary data-testid="filter-panel">Filters</summary>
  <form id="history-filters" class="filters" method="get" action="{page.url('history:list')}"
        hx-get="{page.url('history:list')}" hx-target="#history-results" hx-swap="outerHTML" hx-push-url="true"
        hx-trigger="change, input changed delay:400ms from:#id_q, submit" role="search" aria-label="Filter tasks">
    <label class="field">File name or text
      <input type="search" id="id_q" name="q" value="{_e(filters.q)}" maxlength="200" placeholder="name, words in the text…" data-testid="filter-q">
    </label>
    <label class="field">From
      <input type="text" inputmode="numeric" pattern="\\d{{4}}-\\d{{2}}-\\d{{2}}" placeholder="YYYY-MM-DD" maxlength="10" autocomplete="off" name="created_from" value="{_e(date_filter(filters.created_from, 'Y-m-d'))}" data-testid="filter-from">
    </label>
    <label class="field">To
      <input type="text" inputmode="numeric" pattern="\\d{{4}}-\\d{{2}}-\\d{{2}}" placeholder="YYYY-MM-DD" maxlength="10" autocomplete="off" name="created_to" value="{_e(date_filter(filters.created_to, 'Y-m-d'))}" data-testid="filter-to">
    </label>
    <fieldset class="statuses">
      <legend>Status</legend>
      {statuses}
    </fieldset>
    {_state(c, oob=False)}
    <div class="filter-buttons">
      <button type="submit" class="primary">Apply</button>
      <a href="{page.url('history:list')}" class="button-link" data-testid="clear-filters">Clear filters</a>
    </div>
  </form>
  </details>
</section>
<section class="card">
  {_results(page, c)}
</section>
<dialog id="task-modal" aria-labelledby="task-modal-title" data-testid="task-modal">
  <form method="dialog" class="modal-close"><button type="submit" aria-label="Close" data-testid="modal-close">×</button></form>
  <div id="task-modal-body"></div>
</dialog>
'''
    return _base(page, c, title="Task History", content=content)


def _state(c: dict, *, oob: bool) -> str:
    ordering, page_size = c["ordering"], c["page_size"]
    sorts = "".join(f'<option value="{_e(value)}" {"selected" if value == ordering else ""}>{_e(label)}</option>'
                    for value, label in c["sort_choices"])
    sizes = "".join(f'<option value="{_e(size)}" {"selected" if size == page_size else ""}>{_e(size)}</option>'
                    for size in c["page_sizes"])
    return f'''<div id="history-state" class="state"{' hx-swap-oob="true"' if oob else ''}>
  <input type="hidden" name="ordering" value="{_e(ordering)}">
  
  <label class="field sort-field">Sort by
    <select data-sort-select data-testid="sort-select">
      {sorts}
    </select>
  </label>
  <label class="field">Rows per page
    <select name="page_size" data-testid="page-size">
      {sizes}
    </select>
  </label>
</div>
'''


def _results(page: _Page, c: dict) -> str:
    result = c["page"]
    out = [f'''
<div id="history-results" data-testid="history-results" data-count="{_e(result.count)}">
  ''']
    errors = c["errors"]
    if errors:
        spans = " ".join(f'<span class="field-error" data-field="{_e(field)}">{_e(message)}</span>'
                         for field, message in errors.items())
        out.append(f'<div class="alert" role="alert" data-testid="filter-errors">{spans} The list below is shown without '
                   f'{"that filter" if len(errors) == 1 else "those filters"}.</div>')
    out.append("\n  ")
    if c["notice"]:
        out.append(f'<div class="{"alert" if c["notice_error"] else "msg-success"}" role="status" data-testid="notice">'
                   f'{_e(c["notice"])}</div>')
    out.append("\n  ")
    if not c["has_any"]:
        out.append(f'''
  <div class="empty" data-testid="history-empty">
    <p>No tasks yet. Upload a scan and it shows up here.</p>
    <a href="{page.url('tasks:home')}" class="button-link">Upload a scan</a>
  </div>
  ''')
    elif not result.rows:
        out.append(f'''
  <div class="empty" data-testid="history-no-match">
    <p>No tasks match these filters.</p>
    <a href="{page.url('history:list')}" class="button-link" data-testid="clear-filters-empty">Clear filters</a>
  </div>
  ''')
    else:
        out.append(_table(page, c))
    out.append("\n  ")
    if result.count:
        query = f"&amp;{_e(c['export_query'])}" if c["export_query"] else ""
        every = f"{_e(result.count)} row{_e(pluralize(result.count))}" if result.exact else "every row"
        export = page.url("history:export")
        out.append(f'''
  <p class="export-links">Export {every} of this view:
    <a href="{export}?format=csv{query}" data-testid="export-csv" download>CSV</a> ·
    <a href="{export}?format=json{query}" data-testid="export-json" download>JSON</a>
  </p>
  ''')
    out.append("\n  ")
    if page.request.htmx:
        out.append(_state(c, oob=True))
    out.append("\n</div>\n")
    return "".join(out)


def _table(page: _Page, c: dict) -> str:
    result = c["page"]
    bulk = page.url("history:bulk") + (f"?{_e(c['view_query'])}" if c["view_query"] else "")
    out = [f'''
  <form id="bulk-form" method="post" action="{bulk}">
    {page.csrf_input()}
    <div class="bulkbar" data-testid="bulk-bar">
      <span class="muted">With selected (<span id="bulk-count" aria-live="polite">none selected</span>):</span>
      <button type="submit" name="action" value="download" data-testid="bulk-download">Download results (ZIP)</button>
      <button type="button" name="action" value="retry" data-testid="bulk-retry"
              hx-post="{bulk}" hx-target="#history-results" hx-swap="outerHTML">Retry</button>
      <button type="button" name="action" value="cancel" data-testid="bulk-cancel"
              hx-post="{bulk}" hx-target="#history-results" hx-swap="outerHTML">Cancel</button>
      <button type="button" name="action" value="delete" class="danger" data-testid="bulk-delete"
              hx-post="{bulk}" hx-target="#history-results" hx-swap="outerHTML"
              hx-confirm="Delete the selected tasks and all their files? This cannot be undone.">Delete</button>
    </div>
    <div class="table-wrap">
    <table class="tasks history" data-testid="history-table">
      <thead>
        <tr>
          <th class="check"><input type="checkbox" id="select-all" aria-label="Select all tasks on this page" data-testid="select-all"></th>
          ''']
    for column in c["columns"]:
        sort = (f' aria-sort="{"descending" if column["desc"] else "ascending"}"' if column["active"] else "")
        out.append(f'\n          <th scope="col"{sort}>\n            ')
        if column["key"]:
            link = page.querystring(ordering=column["next"], page=None)
            arrow = (f' <span aria-hidden="true">{"▼" if column["desc"] else "▲"}</span>' if column["active"] else "")
            out.append(f'''<a href="{link}" hx-get="{link}"
               hx-target="#history-results" hx-swap="outerHTML" hx-push-url="true" data-testid="sort-{_e(column['key'])}">{_e(column['label'])}{arrow}</a>
            ''')
        else:
            out.append(_e(column["label"]))
        out.append("\n          </th>\n          ")
    out.append('''
          <th scope="col">Actions</th>
        </tr>
      </thead>
      <tbody>
        ''')
    out.extend(_e(row) for row in c["rows_html"])
    out.append(f'''
      </tbody>
    </table>
    </div>
  </form>
  <nav class="pager" aria-label="Pages" data-testid="pager">
    <span class="muted" data-testid="page-summary">{_e(result.start_index)}–{_e(result.end_index)} of {'' if result.exact else 'more than '}{_e(result.count)}</span>
    ''')
    number = result.page
    if result.has_previous:
        link = page.querystring(page=number - 1)
        out.append(f'<a href="{link}" hx-get="{link}" hx-target="#history-results" hx-swap="outerHTML" hx-push-url="true" '
                   'rel="prev" data-testid="page-prev">‹ Previous</a>')
    out.append("\n    ")
    for n in c["page_numbers"]:
        out.append("\n      ")
        if n is None:
            out.append('<span class="gap">…</span>\n      ')
        elif n == number:
            out.append(f'<span class="current" aria-current="page" data-testid="page-current">{_e(n)}</span>\n      ')
        else:
            link = page.querystring(page=n)
            out.append(f'<a href="{link}" hx-get="{link}" hx-target="#history-results" hx-swap="outerHTML" '
                       f'hx-push-url="true" data-testid="page-{_e(n)}">{_e(n)}</a>')
        out.append("\n    ")
    out.append("\n    ")
    if not result.exact:
        out.append('<span class="gap">…</span>')
    out.append("\n    ")
    if result.has_next:
        link = page.querystring(page=number + 1)
        out.append(f'<a href="{link}" hx-get="{link}" hx-target="#history-results" hx-swap="outerHTML" hx-push-url="true" '
                   'rel="next" data-testid="page-next">Next ›</a>')
    out.append("\n  </nav>\n  ")
    return "".join(out)


# --- tasks/detail.html and tasks/_task_status.html -----------------------------------------------------------

def _task_page(page: _Page, c: dict) -> str:
    task = c["task"]
    when = engine_filter("ui_tags", "when")
    retried = f" · retried {_e(task.retry_count)}×" if task.retry_count else ""
    content = f'''
<section class="card">
  <h1>{_e(task.filename)}</h1>
  <p class="muted">{_e(task.mime_type)} · {_e(filesizeformat(task.size_bytes))} · {_e(task.page_count)} page{_e(pluralize(task.page_count))}
     · engine {_e(task.engine)} · language <span data-testid="task-language">{_e(task.language)}</span> · uploaded {_e(when(task.created_at))}{retried}</p>
  {_task_status(page, c)}
</section>
'''
    return _base(page, c, title=_e(task.filename), content=content)


def _task_status(page: _Page, c: dict) -> str:
    task = c["task"]
    poll = (f'hx-get="{page.url("tasks:detail", task.id)}" hx-trigger="every 2s" hx-swap="outerHTML"'
            if task.is_active else "")
    seconds = f"· {_e(floatformat(task.processing_seconds, '1'))} s" if task.processing_seconds else ""
    out = [f'''
<div id="task-status" {poll} data-status="{_e(task.status)}">
  <p>Status: <span class="status status-{_e(task.status)}" data-testid="task-status">{_e(task.get_status_display())}</span>
     · <span data-testid="task-progress">{_e(task.pages_done)} / {_e(task.page_count)}</span> pages
     {seconds}</p>
  ''']
    if task.status == "processing" and not task.pages_done:
        out.append(f'''
  <progress max="100" aria-label="Progress: reading page 1" data-testid="progress-working"></progress>
  <p class="muted">Reading page 1 of {_e(task.page_count)}…</p>
  ''')
    else:
        percent = _e(task.progress_percent)
        out.append(f'''
  <progress max="100" value="{percent}" aria-label="Progress">{percent}%</progress>
  ''')
    out.append("\n  ")
    if c["how_read"]:
        out.append('<ul class="how-read" data-testid="how-read">')
        out.extend(f"<li>{_e(sentence)}</li>" for sentence in c["how_read"])
        out.append("</ul>")
    out.append("\n  ")
    if task.error_message:
        out.append(f'<div class="alert" role="alert" data-testid="task-error">{_e(task.error_message)}</div>')
    out.append('''

  <div class="task-actions">
    ''')
    downloads = c["downloads"]
    if downloads:
        links = " · ".join(f'<a href="{_e(d["url"])}" download>{_e(d["label"])}</a> '
                           f'<span class="muted">({_e(filesizeformat(d["size_bytes"]))})</span>' for d in downloads)
        out.append(f'''
    <span class="downloads" data-testid="downloads">Download:
      {links}
    </span>
    ''')
    cancel = f'<a class="button" href="{page.url("tasks:cancel", task.id)}">Cancel…</a>' if c["can_cancel"] else ""
    out.append(f'''
    <span class="buttons">
      {cancel}
      <a class="button danger" href="{page.url('tasks:delete', task.id)}">Delete…</a>
    </span>
  </div>
  ''')
    if c["earlier_results"]:
        out.append('<p class="muted" data-testid="earlier-results">The downloads above are from the earlier run; '
                   "the new run's results replace them when it completes.</p>")
    out.append("\n  ")
    form = c["retry_form"]
    if form:
        out.append(_run_again(page, task, form))
    out.append("\n\n  ")
    if c["pages"] is not None:
        out.append(_ocr_pages(page, c))
    out.append("\n</div>\n")
    return "".join(out)


def _run_again(page: _Page, task, form) -> str:
    fields = form.field_html()
    radios = "".join(f'<div class="engine-choice">{_e(radio)}</div>' for radio in fields["engine"])
    note = ("The current results stay downloadable until the new run completes, then they are replaced."
            if task.status == "completed" else "The task is read again from its original file.")
    return f'''
  <details class="run-again" data-testid="run-again">
    <summary>Run again with…</summary>
    <form method="post" action="{page.url('tasks:retry', task.id)}" class="stack">
      {page.csrf_input()}
      <fieldset class="engines">
        <legend>{_e(form['engine'].label)}</legend>
        {radios}
      </fieldset>
      <label>{_e(form['language'].label)} {_e(fields['language'])}</label>
      <p class="muted">{note}</p>
      <div class="buttons"><button type="submit" class="primary" data-testid="run-again-submit">Run again</button></div>
    </form>
  </details>
  '''


def _ocr_pages(page: _Page, c: dict) -> str:
    task, pages, images = c["task"], c["pages"], c["page_images"]
    toggle = ('<label class="lines-toggle"><input type="checkbox" checked data-testid="lines-toggle"> '
              "Show recognised lines on the pages</label>" if images else "")
    copy_all = ""
    if pages:
        ids = " ".join(f"page-text-{_e(p['number'])}" for p in pages)
        copy_all = f'<button type="button" class="button" data-copy-from="{ids}" data-testid="copy-all">Copy all text</button>'
    legend = ('<p class="muted legend">Point at a line on the page or in the text to see the other. '
              '<mark class="low-conf">Marked text</mark> was read with less than '
              f'{_e(c["low_confidence_percent"])}% confidence: check it against the page.</p>' if images else "")
    out = [f'''
  <div class="ocr-pages" id="ocr-pages" data-testid="ocr-pages">
  <div class="text-toolbar">
    <h2>Text</h2>
    <span class="buttons">
      {toggle}
      {copy_all}
    </span>
  </div>
  {legend}
  <div data-testid="ocr-text">
  ''']
    for p in pages:
        out.append(_ocr_page(page, task, p, images))
    if not pages:
        out.append('\n    <p class="muted">No pages.</p>\n  ')
    out.append("\n  </div>\n  </div>\n  ")
    return "".join(out)


def _ocr_page(page: _Page, task, p: dict, images: bool) -> str:
    number, view = _e(p["number"]), p["view"]
    other_engine = p["engine"] and p["engine"] != task.engine
    note = ""
    if p["turned"] or other_engine:
        turned = f"Before reading, this page was {_e(join(p['turned'], ', '))}." if p["turned"] else ""
        read_by = f" Read by {_e(p['engine'])}." if other_engine else ""
        note = f'<p class="muted" data-testid="page-turned">{turned}{read_by}</p>'
    out = [f'''
    <section class="ocr-page{' with-image' if images else ''}" data-page="{number}" data-testid="ocr-page">
      <div class="page-head">
        <h3>Page {number}{_FROM_TEXT_LAYER if p['from_text_layer'] else ''}</h3>
        <button type="button" class="button" data-copy-from="page-text-{number}" data-testid="copy-page">Copy text<span class="visually-hidden"> of page {number}</span></button>
      </div>
      {note}
      <div class="page-pair">
        ''']
    if images:
        size = (f' width="{_e(view["width"])}" height="{_e(view["height"])}"' if view["width"] and view["height"] else "")
        out.append(f'''
        <figure class="page-figure" data-testid="page-figure">
          <img src="{page.url('tasks:page-image', task.id, p['number'])}?run={_e(task.retry_count)}" alt="Page {number} of {_e(task.filename)}"{size} loading="lazy" data-testid="page-image">
          ''')
        if view["has_overlay"]:
            boxes = "".join(f'<polygon points="{_e(b["points"])}" data-line="{_e(b["id"])}"'
                            f'{_LOW if b["low"] else ""}><title>{_e(b["text"])} ({_e(b["confidence"])}%)'
                            "</title></polygon>" for b in view["boxes"])
            out.append(f'''
          <svg class="page-lines" viewBox="0 0 {_e(view['width'])} {_e(view['height'])}" preserveAspectRatio="none" aria-hidden="true" data-testid="page-lines">
            {boxes}
          </svg>
          ''')
        out.append('''
        </figure>
        ''')
    out.append(f'''
        <div class="ocr-text" data-testid="page-text">{_page_text(p)}</div>
        <textarea id="page-text-{number}" class="copy-source" hidden readonly aria-hidden="true" tabindex="-1">{_e(p['text'])}</textarea>
      </div>
    </section>
  ''')
    return "".join(out)


_FROM_TEXT_LAYER = ' <span class="muted">· from the PDF\'s text</span>'
_LOW = ' class="low-conf"'


def _page_text(p: dict) -> str:
    rows = p["view"]["rows"]
    if not rows:
        return f'<div class="ocr-plain">{_e(p["text"])}</div>'
    out = []
    for row in rows:
        if row["gap"]:
            out.append("<br>")
        items = []
        for item in row["items"]:
            text = _e(item["text"])
            if item["low"]:
                items.append(f'<span class="ocr-line low-conf" data-line="{_e(item["id"])}" '
                             f'title="{_e(item["confidence"])}% confidence"><mark class="low-conf">{text}</mark></span>')
            else:
                items.append(f'<span class="ocr-line" data-line="{_e(item["id"])}">{text}</span>')
        out.append(f'<div class="ocr-row">{" ".join(items)}</div>')
    return "".join(out)


_DRAWERS = {
    "history/list.html": (_history_page, ("base.html", "history/_badge.html", "history/list.html",
                                          "history/_state.html", "history/_results.html")),
    "history/_results.html": (_results, ("history/_results.html", "history/_state.html")),
    "tasks/detail.html": (_task_page, ("base.html", "history/_badge.html", "tasks/detail.html",
                                       "tasks/_task_status.html")),
    "tasks/_task_status.html": (_task_status, ("tasks/_task_status.html",)),
}
