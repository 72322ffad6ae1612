// Task History: the details modal, "select all", and back/forward showing the server's view.
(function () {
  "use strict";
  if (window.htmx) {
    // The back button reloads the URL instead of restoring a stale snapshot, so a shared link,
    // a reload and the back button all show exactly what the server renders for that URL.
    htmx.config.historyCacheSize = 0;
    htmx.config.refreshOnHistoryMiss = true;
  }
  // Short, shareable URLs: the filter form leaves out empty fields and the defaults.
  var DEFAULTS = {ordering: "-created_at", page_size: "25"};
  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.elt || event.detail.elt.id !== "history-filters") { return; }
    var params = event.detail.parameters;
    ["q", "created_from", "created_to"].forEach(function (name) {
      if (params[name] === "" || params[name] === undefined) { delete params[name]; }
    });
    Object.keys(DEFAULTS).forEach(function (name) {
      if (params[name] === DEFAULTS[name]) { delete params[name]; }
    });
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "task-modal-body") {
      var dialog = document.getElementById("task-modal");
      if (dialog && !dialog.open) { dialog.showModal(); }
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (event.detail.successful && elt && elt.hasAttribute && elt.hasAttribute("data-close-modal")) {
      var dialog = document.getElementById("task-modal");
      if (dialog && dialog.open) { dialog.close(); }
    }
  });
  // The phone's "Sort by" list writes the form's ordering before htmx reads the form ("input" comes before "change").
  document.addEventListener("input", function (event) {
    if (event.target && event.target.hasAttribute && event.target.hasAttribute("data-sort-select")) {
      var hidden = document.querySelector('#history-filters input[name="ordering"]');
      if (hidden) { hidden.value = event.target.value; }
    }
  });
  // Bulk buttons are active only with something selected (and say so to screen readers).
  function syncBulk() {
    var chosen = document.querySelectorAll('#history-results input[name="ids"]:checked').length;
    var buttons = document.querySelectorAll('#bulk-form .bulkbar button');
    for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = chosen === 0; }
    var count = document.getElementById("bulk-count");
    if (count) { count.textContent = chosen ? chosen + " selected" : "none selected"; }
  }
  document.addEventListener("change", function (event) {
    if (event.target && event.target.id === "select-all") {
      var boxes = document.querySelectorAll('#history-results input[name="ids"]');
      for (var i = 0; i < boxes.length; i++) { boxes[i].checked = event.target.checked; }
    }
    syncBulk();
  });
  document.addEventListener("htmx:afterSettle", syncBulk);
  document.addEventListener("DOMContentLoaded", syncBulk);
})();
document.addEventListener("DOMContentLoaded", function () {
  var dialog = document.getElementById("task-modal");
  if (dialog) {
    // A closed modal stops polling: its content goes.
    dialog.addEventListener("close", function () { document.getElementById("task-modal-body").innerHTML = ""; });
  }
});
