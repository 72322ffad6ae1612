// The upload form on "/": drag and drop into the form's own file input, then the same multipart POST
// sent with XMLHttpRequest so each file shows its bytes sent before its task exists. The server answers
// {"redirect": url} and the browser goes there with a GET (post/redirect/get: a reload never re-sends).
// Without JavaScript the form posts as usual and the server redirects. No libraries, no CDN.
(function () {
  "use strict";
  var zone = document.getElementById("dropzone");
  if (!zone) { return; }
  var form = document.getElementById("upload-form");
  var input = zone.querySelector("input[type=file]");
  var list = document.getElementById("dropzone-list");
  var status = document.getElementById("upload-status");
  var maxMb = zone.getAttribute("data-max-mb");
  var maxBytes = (parseFloat(maxMb) || 0) * 1024 * 1024;
  var maxFiles = parseInt(zone.getAttribute("data-max-files") || "0", 10);
  var sending = false;

  function describe(size) {
    return size >= 1048576 ? (size / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(size / 1024)) + " KB";
  }

  function showChosen() {
    list.textContent = "";
    Array.prototype.forEach.call(input.files, function (file, index) {
      var item = document.createElement("li");
      item.setAttribute("data-testid", "chosen-file");
      var name = document.createElement("span");
      name.className = "chosen-name";
      name.textContent = file.name + " (" + describe(file.size) + ")";
      item.appendChild(name);
      if (maxBytes && file.size > maxBytes) {
        item.className = "too-large";
        name.textContent += " — larger than " + maxMb + " MB, it will be refused";
      }
      if (maxFiles && index >= maxFiles) {
        item.className = "too-large";
        name.textContent += " — more than " + maxFiles + " files in one upload: choose it again afterwards";
      }
      list.appendChild(item);
    });
  }

  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  ["dragleave", "dragend"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (!event.dataTransfer || !event.dataTransfer.files.length) { return; }
    // Add the dropped files to those already chosen (DataTransfer builds a FileList we may assign).
    var merged = new DataTransfer();
    Array.prototype.forEach.call(input.files, function (f) { merged.items.add(f); });
    Array.prototype.forEach.call(event.dataTransfer.files, function (f) { merged.items.add(f); });
    input.files = merged.files;
    showChosen();
  });
  input.addEventListener("change", showChosen);

  function say(text, isError) {
    status.textContent = text;
    status.className = "upload-status" + (isError ? " alert" : "");
  }

  // One <progress> per file; bytes sent are spread over the files in the order they are sent.
  function progressBars(files) {
    var items = list.querySelectorAll("li");
    return files.map(function (file, index) {
      var bar = document.createElement("progress");
      bar.max = file.size || 1;
      bar.value = 0;
      bar.setAttribute("aria-label", "Sent of " + file.name);
      bar.setAttribute("data-testid", "file-progress");
      if (items[index]) { items[index].appendChild(bar); }
      return bar;
    });
  }

  form.addEventListener("submit", function (event) {
    if (!window.FormData || !window.XMLHttpRequest) { return; }  // the plain POST still works
    event.preventDefault();
    if (sending) { return; }
    var files = Array.prototype.slice.call(input.files);
    if (!files.length) { say("Choose at least one file to read.", true); input.focus(); return; }
    var refusedHere = [];
    if (maxFiles && files.length > maxFiles) {
      refusedHere = files.slice(maxFiles).map(function (f) { return f.name; });
      var kept = new DataTransfer();
      files.slice(0, maxFiles).forEach(function (f) { kept.items.add(f); });
      input.files = kept.files;
      files = files.slice(0, maxFiles);
    }
    showChosen();
    var bars = progressBars(files);
    var total = files.reduce(function (sum, f) { return sum + f.size; }, 0);
    var button = form.querySelector("button[type=submit]");
    var xhr = new XMLHttpRequest();
    sending = true;
    button.disabled = true;
    say("Uploading " + files.length + " file" + (files.length === 1 ? "" : "s") + "…");
    xhr.upload.addEventListener("progress", function (e) {
      // The body also carries the form fields and part headers: scale to the files' own bytes.
      var sent = e.lengthComputable && e.total ? e.loaded / e.total * total : e.loaded;
      var before = 0;
      files.forEach(function (file, i) {
        bars[i].value = Math.max(0, Math.min(file.size, sent - before));
        before += file.size;
      });
      if (e.lengthComputable) {
        say("Uploading: " + Math.floor(100 * e.loaded / e.total) + " % of " + describe(total) + " sent.");
      }
    });
    xhr.upload.addEventListener("load", function () {
      bars.forEach(function (bar) { bar.value = bar.max; });
      say("Sent. Checking the files…");
    });
    function failed(text) {
      sending = false;
      button.disabled = false;
      say(text + " Nothing is lost on your side: press “Upload and read” to try again.", true);
    }
    xhr.addEventListener("load", function () {
      var answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
      if (answer && answer.redirect) {
        if (refusedHere.length) {
          try { sessionStorage.setItem("tool-ocr-not-sent", JSON.stringify(refusedHere)); } catch (e) { /* ignore */ }
        }
        window.location.assign(answer.redirect);
        return;
      }
      if (answer && answer.errors) { failed(answer.errors.join(" ")); return; }
      if (xhr.status === 413) { failed("The upload is larger than the server takes in one go (error 413): choose fewer files at a time."); return; }
      if (xhr.status === 403) { failed("The page was open too long and its form expired (error 403): reload the page, then upload again."); return; }
      failed("The upload failed: the server answered with error " + xhr.status + ".");
    });
    xhr.addEventListener("error", function () { failed("The upload failed: Tool OCR could not be reached."); });
    xhr.addEventListener("timeout", function () { failed("The upload failed: the server took too long to answer."); });
    xhr.open("POST", form.getAttribute("action") || window.location.pathname);
    xhr.setRequestHeader("X-Upload", "xhr");
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (token) { xhr.setRequestHeader("X-CSRFToken", token.value); }
    xhr.send(new FormData(form));
    if (refusedHere.length) {
      say("Uploading " + files.length + " files; " + refusedHere.length + " not sent (more than " + maxFiles +
          " in one upload): " + refusedHere.join(", ") + ".");
    }
  });

  // Files the browser held back (over the per-upload number) are named once more after the redirect.
  try {
    var notSent = JSON.parse(sessionStorage.getItem("tool-ocr-not-sent") || "null");
    if (notSent && notSent.length) {
      sessionStorage.removeItem("tool-ocr-not-sent");
      say("Not sent (more than " + maxFiles + " files in one upload), choose them again: " + notSent.join(", ") + ".", true);
    }
  } catch (e) { /* private mode */ }
})();
