// Login page: show the server's error answers (401/423/429/503...) in the feedback box.
// htmx does not swap 4xx/5xx responses by default; the login form wants them shown.
document.addEventListener("htmx:beforeSwap", function (event) {
  var target = event.detail.target;
  if (target && target.id === "login-feedback" && event.detail.xhr.status >= 400) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
// A network failure (the app itself unreachable) would otherwise leave no trace.
document.addEventListener("htmx:sendError", function (event) {
  var box = document.getElementById("login-feedback");
  if (box && event.detail.elt && event.detail.elt.id === "login-form") {
    box.innerHTML = '<div class="alert" role="alert" data-testid="login-error">' +
      "Tool OCR could not be reached. Check your connection and try again.</div>";
  }
});
