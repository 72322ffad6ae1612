// Every page: HTMX requests never fail silently, focus stays where the user was, local times,
// and the header badge / tab title / opt-in notification when a task finishes. No libraries, no CDN.
(function () {
  "use strict";
  var BUSY_DELAY_MS = 300;     // a quick answer shows no indicator at all
  var REQUEST_TIMEOUT_MS = 20000;
  var STATUS_TEXT = {
    0: "Tool OCR could not be reached. Check your connection.",
    400: "the server could not accept this request (error 400).",
    403: "this was refused (error 403). Your session may have ended: reload the page.",
    404: "it no longer exists (error 404).",
    409: "that is not possible in the task's current state (error 409).",
    413: "the request is too large for the server (error 413).",
    429: "too many requests just now (error 429). Wait a moment.",
    500: "the server had a problem (error 500).",
    502: "Tool OCR is unavailable for the moment (error 502).",
    503: "Tool OCR is unavailable for the moment (error 503).",
    504: "the server took too long to answer (error 504)."
  };

  function byId(id) { return document.getElementById(id); }
  function isPoll(elt) {
    var trigger = elt && elt.getAttribute && elt.getAttribute("hx-trigger") || "";
    return /\bevery\b/.test(trigger) || elt.id === "active-badge" || elt.id === "user-brief-stats";
  }
  function describe(elt) {
    if (!elt || !elt.getAttribute) { return "The request"; }
    var label = elt.getAttribute("data-action-label");
    if (label) { return label; }
    if (elt.id === "history-filters") { return "Updating the list"; }
    if (elt.tagName === "BUTTON") { return "“" + (elt.getAttribute("aria-label") || elt.textContent.trim()) + "”"; }
    if (elt.tagName === "A") { return "Loading “" + elt.textContent.trim().replace(/\s*[▲▼]$/, "") + "”"; }
    if (isPoll(elt)) { return "Live updates"; }
    return "The request";
  }
  function announce(text) {
    var region = byId("live-announcer");
    if (!region) {
      region = document.createElement("div");
      region.id = "live-announcer";
      region.className = "visually-hidden";
      region.setAttribute("aria-live", "polite");
      document.body.appendChild(region);
    }
    region.textContent = "";
    setTimeout(function () { region.textContent = text; }, 50);
  }

  // --- Working indicator -------------------------------------------------------
  var busy = 0, busyTimer = null;
  function showBusy(on) {
    var box = byId("busy-indicator");
    if (!box) { return; }
    if (on) {
      box.innerHTML = '<span class="spinner" aria-hidden="true"></span> <span>Working…</span>';
      box.classList.add("shown");
    } else {
      box.textContent = "";
      box.classList.remove("shown");
    }
  }

  // --- Problems: one message at a time, with "Try again" ------------------------
  var lastRequest = new WeakMap();  // element -> {verb, path}
  var pollFailures = new WeakMap();
  function showProblem(text, retry, key) {
    var region = byId("request-problems");
    if (!region) { return; }
    region.textContent = "";
    var box = document.createElement("div");
    box.className = "alert problem";
    box.setAttribute("role", "alert");
    box.setAttribute("data-testid", "request-problem");
    if (key) { box.setAttribute("data-key", key); }
    var span = document.createElement("span");
    span.textContent = text + " ";
    box.appendChild(span);
    if (retry) {
      var again = document.createElement("button");
      again.type = "button";
      again.className = "secondary";
      again.textContent = "Try again";
      again.setAttribute("data-testid", "try-again");
      again.addEventListener("click", function () { region.textContent = ""; retry(); });
      box.appendChild(again);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "link dismiss";
    close.setAttribute("aria-label", "Dismiss this message");
    close.textContent = "×";
    close.addEventListener("click", function () { region.textContent = ""; });
    box.appendChild(close);
    region.appendChild(box);
  }
  function showNote(text) {
    var region = byId("request-problems");
    if (!region) { return; }
    region.textContent = "";
    var box = document.createElement("div");
    box.className = "msg-warning problem";
    box.setAttribute("role", "status");
    box.setAttribute("data-testid", "request-note");
    box.textContent = text;
    region.appendChild(box);
  }
  function clearProblem(key) {
    var region = byId("request-problems");
    var box = region && region.querySelector(".problem");
    if (box && (!key || box.getAttribute("data-key") === key)) { region.textContent = ""; }
  }
  function retryFor(elt) {
    var req = lastRequest.get(elt);
    return function () {
      if (!elt.isConnected || !req) { window.location.reload(); return; }
      htmx.ajax(req.verb.toUpperCase(), req.path, {source: elt});
    };
  }
  function keyOf(elt) { return elt.id || elt.getAttribute("data-testid") || ""; }

  // A task that no longer exists (deleted in another tab): its row goes, with a note.
  function taskGone(elt) {
    var row = elt.closest && elt.closest("tr[data-task-id]");
    var detail = elt.closest && elt.closest("#task-detail");
    var statusBox = elt.closest && elt.closest("#task-status");
    if (!row && !detail && !statusBox) { return false; }
    var name = "";
    if (detail) {
      var dialog = byId("task-modal");
      var title = byId("task-modal-title");
      name = title ? title.textContent.trim() : "";
      var id = (detail.getAttribute("hx-get") || "").match(/tasks\/([0-9a-f-]{36})/);
      if (id) { row = document.querySelector('tr[data-task-id="' + id[1] + '"]'); }
      if (dialog && dialog.open) { dialog.close(); }
    }
    if (row) {
      var link = row.querySelector(".filename a");
      name = name || (link ? link.textContent.trim() : "");
      var table = row.closest("table");
      row.parentNode.removeChild(row);
      if (table) { table.setAttribute("tabindex", "-1"); table.focus(); }
    }
    if (statusBox) {
      var gone = document.createElement("div");
      gone.id = "task-status";
      gone.setAttribute("data-status", "gone");
      gone.innerHTML = '<p class="msg-warning" data-testid="task-gone">This task no longer exists: it was deleted, ' +
        'perhaps in another tab. <a>Go to the upload page</a></p>';
      // The upload page's URL as the header links it (under the script prefix behind a proxy at a sub-path).
      var brand = document.querySelector(".topbar .brand");
      gone.querySelector("a").setAttribute("href", brand ? brand.getAttribute("href") : "/");
      statusBox.parentNode.replaceChild(gone, statusBox);
      name = name || (document.querySelector("h1") || {}).textContent || "";
    }
    showNote((name ? "“" + name + "”" : "This task") + " no longer exists: it was deleted elsewhere, so it was taken off this page.");
    htmx.trigger(document.body, "tasks-changed");
    return true;
  }

  function onFailure(elt, status, kind) {
    if (!elt || elt.id === "login-form") { return; }  // the sign-in form shows its own answers
    if (status === 404 && taskGone(elt)) { return; }
    var reason = kind === "timeout" ? "the server took too long to answer." :
      (kind === "network" ? STATUS_TEXT[0] : (STATUS_TEXT[status] || ("the server answered with error " + status + ".")));
    var text;
    if (kind === "network") { text = describe(elt) + " failed: " + reason; }
    else { text = describe(elt) + " failed: " + reason; }
    if (isPoll(elt)) {
      var n = (pollFailures.get(elt) || 0) + 1;
      pollFailures.set(elt, n);
      if (n > 1) { return; }  // said once; cleared when a later poll succeeds
      text = "Live updates paused: " + reason + " Tool OCR keeps trying.";
    }
    showProblem(text, retryFor(elt), keyOf(elt));
  }

  function wire() {
    if (!window.htmx) { return; }
    htmx.config.timeout = REQUEST_TIMEOUT_MS;
    // Focus: remember what had it, to put it back on the same control after the swap.
    var focusKey = null;
    document.addEventListener("htmx:beforeRequest", function (event) {
      var elt = event.detail.elt, cfg = event.detail.requestConfig;
      if (cfg) { lastRequest.set(elt, {verb: cfg.verb, path: cfg.path}); }
      // Remember on the request whether it is a background poll: after an outerHTML swap htmx reports
      // afterRequest on the parent, which is no poll.
      if (event.detail.xhr) { event.detail.xhr.toolOcrPoll = isPoll(elt); event.detail.xhr.toolOcrElt = elt; }
      if (!isPoll(elt)) {
        clearProblem();  // a new attempt by the user replaces the last message
        busy += 1;
        if (!busyTimer) { busyTimer = setTimeout(function () { if (busy > 0) { showBusy(true); } }, BUSY_DELAY_MS); }
        var target = event.detail.target;
        if (target && target.setAttribute) { target.setAttribute("aria-busy", "true"); }
      }
    });
    document.addEventListener("htmx:afterRequest", function (event) {
      var xhr = event.detail.xhr || {};
      var elt = xhr.toolOcrElt || event.detail.elt;
      var poll = xhr.toolOcrPoll !== undefined ? xhr.toolOcrPoll : isPoll(elt);
      if (!poll) {
        busy = Math.max(0, busy - 1);
        if (!busy) { clearTimeout(busyTimer); busyTimer = null; showBusy(false); }
        var target = event.detail.target;
        if (target && target.removeAttribute) { target.removeAttribute("aria-busy"); }
      }
      if (event.detail.successful) {
        if (pollFailures.get(elt)) { pollFailures.delete(elt); clearProblem(keyOf(elt)); }
        else if (!poll) { clearProblem(); }
      }
    });
    document.addEventListener("htmx:responseError", function (event) {
      onFailure(event.detail.elt, event.detail.xhr.status, "status");
    });
    // A timeout is also reported as a send error afterwards: say the first, truer one.
    var timedOut = new WeakSet();
    document.addEventListener("htmx:sendError", function (event) {
      if (timedOut.has(event.detail.elt)) { timedOut.delete(event.detail.elt); return; }
      onFailure(event.detail.elt, 0, "network");
    });
    document.addEventListener("htmx:timeout", function (event) {
      timedOut.add(event.detail.elt);
      onFailure(event.detail.elt, 0, "timeout");
    });

    document.addEventListener("htmx:beforeSwap", function (event) {
      var active = document.activeElement, target = event.detail.target;
      focusKey = null;
      // Also outside the target: an out-of-band part (the history's "Rows per page") is swapped too.
      if (active && active !== document.body && target) {
        focusKey = {id: active.id, testid: active.getAttribute("data-testid"), name: active.getAttribute("name"),
                    value: active.getAttribute("value"), target: target.id};
      }
    });
    document.addEventListener("htmx:afterSettle", function () {
      var key = focusKey;
      focusKey = null;
      if (!key || (document.activeElement && document.activeElement !== document.body)) { return; }
      var found = (key.id && byId(key.id)) ||
        (key.testid && document.querySelectorAll('[data-testid="' + CSS.escape(key.testid) + '"]').length === 1 &&
         document.querySelector('[data-testid="' + CSS.escape(key.testid) + '"]')) ||
        (key.name && key.value && document.querySelector('[name="' + CSS.escape(key.name) + '"][value="' +
                                                         CSS.escape(key.value) + '"]'));
      if (!found) {
        // The control went (a deleted row): the notice saying what happened, or the swapped region.
        found = document.querySelector('[data-testid="notice"]') || (key.target && byId(key.target));
        if (found && !found.hasAttribute("tabindex")) { found.setAttribute("tabindex", "-1"); }
      }
      if (found) { found.focus(); }
    });
  }

  // --- The details modal: focus into it, back to the opener, Esc closes (native) ---
  var opener = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id === "task-modal-body" && event.detail.elt.closest && !event.detail.elt.closest("dialog")) {
      opener = event.detail.elt;
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var dialog = byId("task-modal");
    if (dialog && dialog.open && event.detail.target && event.detail.target.id === "task-modal-body" &&
        !dialog.contains(document.activeElement)) {
      var title = byId("task-modal-title");
      if (title) { title.setAttribute("tabindex", "-1"); title.focus(); }
    }
  });
  // Tab and Shift+Tab go round inside an open modal (never out to the page or the browser's bar).
  document.addEventListener("keydown", function (event) {
    var dialog = document.querySelector("dialog[open]");
    if (event.key !== "Tab" || !dialog) { return; }
    var focusable = Array.prototype.filter.call(dialog.querySelectorAll(
      'a[href], button:not([disabled]), input:not([disabled]), select, textarea, [tabindex]:not([tabindex="-1"])'),
      function (el) { return el.offsetParent !== null; });
    if (!focusable.length) { return; }
    var first = focusable[0], last = focusable[focusable.length - 1];
    var inside = dialog.contains(document.activeElement);
    if (event.shiftKey && (document.activeElement === first || !inside)) { event.preventDefault(); last.focus(); }
    else if (!event.shiftKey && (document.activeElement === last || !inside)) { event.preventDefault(); first.focus(); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var dialog = byId("task-modal");
    if (dialog) {
      dialog.addEventListener("close", function () {
        if (opener && opener.isConnected) { opener.focus(); }
        opener = null;
      });
    }
  });

  // --- Times in the browser's zone, named ------------------------------------------
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  var zoneName = (function () {
    try {
      var parts = new Intl.DateTimeFormat("en-GB", {timeZoneName: "short"}).formatToParts(new Date());
      for (var i = 0; i < parts.length; i++) { if (parts[i].type === "timeZoneName") { return parts[i].value; } }
    } catch (e) { /* old browser: the server's rendering stays */ }
    return "";
  })();
  var zoneId = (function () { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; } })();
  function localTimes(root) {
    var nodes = (root || document).querySelectorAll("time[data-local]");
    for (var i = 0; i < nodes.length; i++) {
      var t = nodes[i], d = new Date(t.getAttribute("datetime"));
      if (isNaN(d.getTime()) || !zoneName) { continue; }
      var text = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) +
        ":" + pad(d.getMinutes()) + (t.getAttribute("data-local") === "seconds" ? ":" + pad(d.getSeconds()) : "");
      t.textContent = text + " " + zoneName;
      if (zoneId) { t.title = "Time zone: " + zoneId; }
    }
  }

  // --- Badge, tab title, notifications ---------------------------------------------
  var baseTitle = document.title, lastCount = null, doneNote = "", seenHere = {};
  var channel = ("BroadcastChannel" in window) ? new BroadcastChannel("tool-ocr") : null;
  function stored(name) { try { return JSON.parse(localStorage.getItem(name) || "null"); } catch (e) { return null; } }
  function store(name, value) { try { localStorage.setItem(name, JSON.stringify(value)); } catch (e) { /* private mode */ } }
  function notifyOn() { return stored("tool-ocr-notify") === "on" && "Notification" in window && Notification.permission === "granted"; }
  function setTitle(count) {
    document.title = (doneNote ? doneNote + " · " : "") + (count ? "(" + count + " running) " : "") + baseTitle;
  }
  function readBadge() {
    var badge = byId("active-badge");
    if (!badge) { return; }
    var state;
    try { state = JSON.parse(badge.getAttribute("data-state") || "{}"); } catch (e) { return; }
    var count = parseInt(badge.getAttribute("data-count") || "0", 10);
    badge.setAttribute("aria-label", count + " task" + (count === 1 ? "" : "s") + " running or waiting");
    // Tasks this browser saw active (any tab, any page) that are now finished: say so once.
    var known = stored("tool-ocr-active") || {};
    var told = stored("tool-ocr-told") || {};
    var now = Date.now();
    (state.finished || []).forEach(function (task) {
      var outcome = task.status === "completed" ? "is done" : (task.status === "failed" ? "failed" : "was cancelled");
      var sentence = "“" + task.name + "” " + outcome + ".";
      if (seenHere[task.id]) {  // this tab showed it running: its title says it finished (until looked at)
        delete seenHere[task.id];
        announce(sentence);
        if (document.hidden) { doneNote = (task.status === "completed" ? "✓ " : "✗ ") + task.name; }
      }
      if (known[task.id] && !told[task.id]) {  // one notification per task, whichever tab sees it first
        told[task.id] = now;
        if (notifyOn()) {
          try { new Notification("Tool OCR: " + sentence, {tag: "tool-ocr-" + task.id, body: "Open Tool OCR to see the text."}); }
          catch (e) { /* some browsers only allow notifications from a service worker */ }
        }
      }
      delete known[task.id];
    });
    (state.active || []).forEach(function (task) { known[task.id] = now; seenHere[task.id] = true; });
    Object.keys(known).forEach(function (id) { if (now - known[id] > 86400000) { delete known[id]; } });
    Object.keys(told).forEach(function (id) { if (now - told[id] > 3600000) { delete told[id]; } });
    store("tool-ocr-active", known);
    store("tool-ocr-told", told);
    setTitle(count);
    // Other Tool OCR tabs (any page) refresh their badge when this one sees the count change.
    var shared = stored("tool-ocr-count");
    if (shared !== null && shared !== count && channel) { channel.postMessage({type: "tasks-changed"}); }
    store("tool-ocr-count", count);
    lastCount = count;
  }
  if (channel) {
    channel.onmessage = function (event) {
      if (event.data && event.data.type === "tasks-changed" && window.htmx && byId("active-badge")) {
        htmx.trigger(document.body, "tasks-changed");
      }
    };
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && doneNote) { doneNote = ""; setTitle(lastCount || 0); }
  });
  function wireNotifyToggle() {
    var button = byId("notify-toggle");
    if (!button || !("Notification" in window)) { return; }
    function label() {
      button.textContent = notifyOn() ? "Stop telling me when a task finishes" : "Tell me when a task finishes";
      button.setAttribute("aria-pressed", notifyOn() ? "true" : "false");
    }
    button.hidden = false;
    label();
    button.addEventListener("click", function () {
      if (notifyOn()) { store("tool-ocr-notify", "off"); label(); return; }
      Notification.requestPermission().then(function (permission) {
        store("tool-ocr-notify", permission === "granted" ? "on" : "off");
        label();
        if (permission !== "granted") { announce("The browser did not allow notifications."); }
      });
    });
  }

  // --- Small things: user menu closes on an outside click or Esc; "Go back" on error pages ---
  document.addEventListener("click", function (event) {
    var menus = document.querySelectorAll("details.usermenu[open], details.closes-outside[open]");
    for (var i = 0; i < menus.length; i++) {
      if (!menus[i].contains(event.target)) { menus[i].open = false; }
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var menu = document.querySelector("details.usermenu[open]");
    if (menu) { menu.open = false; menu.querySelector("summary").focus(); }
  });

  wire();  // htmx is loaded (not deferred) before this deferred script: listen before its first request
  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    readBadge();
    wireNotifyToggle();
    var back = document.querySelector("[data-go-back]");
    if (back && window.history.length > 1) {
      back.hidden = false;
      back.addEventListener("click", function () { window.history.back(); });
    }
    // Phones: the history filters fold into a panel (open when a filter is in use).
    var panel = document.querySelector("details.filter-panel");
    if (panel && window.matchMedia && window.matchMedia("(max-width: 640px)").matches &&
        !panel.hasAttribute("data-in-use")) {
      panel.open = false;
    }
    if (window.htmx) {
      htmx.onLoad(function (elt) { localTimes(elt); });
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (byId("active-badge")) { readBadge(); }
    // The task page: once the task is finished, "… is queued for OCR" above it is no longer true.
    var box = byId("task-status"), status = box && box.getAttribute("data-status");
    if (status === "completed" || status === "failed" || status === "cancelled") {
      var notes = document.querySelectorAll(".messages li.msg-success");
      for (var i = 0; i < notes.length; i++) {
        if (/queued/.test(notes[i].textContent)) { notes[i].parentNode.removeChild(notes[i]); }
      }
    }
  });
})();

/* Copy buttons: data-copy-from="<id of an input or element>" copies its value or text (tokens, page text). */
(function () {
  function textOf(el) { return el ? (("value" in el && el.tagName !== "BUTTON") ? el.value : el.innerText) : ""; }
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text; area.setAttribute("readonly", ""); area.style.position = "fixed"; area.style.opacity = "0";
    document.body.appendChild(area); area.select();
    var ok = false; try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy-from]") : null;
    if (!button) { return; }
    var ids = button.getAttribute("data-copy-from").split(/\s+/);
    var text = ids.map(function (id) { return textOf(document.getElementById(id)); }).join("\n\n");
    var done = navigator.clipboard && window.isSecureContext ? navigator.clipboard.writeText(text) : fallbackCopy(text);
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    done.then(function () { button.textContent = "Copied"; button.setAttribute("data-copied", "true"); },
              function () { button.textContent = "Copy failed: select the text and press Ctrl+C"; })
      .then(function () { setTimeout(function () { button.textContent = label; button.removeAttribute("data-copied"); }, 2500); });
  });
})();

/* The page beside its text: pointing at a line on the page highlights its text, and the other way round. */
(function () {
  function lineOf(target) { return target && target.closest ? target.closest("[data-line]") : null; }
  function mark(id, on) {
    var all = document.querySelectorAll('[data-line="' + id + '"]');
    for (var i = 0; i < all.length; i++) {
      if (on) { all[i].classList.add("hl"); } else { all[i].classList.remove("hl"); }
    }
  }
  document.addEventListener("mouseover", function (event) {
    var el = lineOf(event.target);
    if (el) { mark(el.getAttribute("data-line"), true); }
  });
  document.addEventListener("mouseout", function (event) {
    var el = lineOf(event.target);
    if (el && !(event.relatedTarget && el.contains(event.relatedTarget))) { mark(el.getAttribute("data-line"), false); }
  });
})();
