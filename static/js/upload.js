// Drag and drop for the upload form on "/": dropped files go into the form's own file input,
// so the upload is the same plain multipart POST as without JavaScript. No libraries, no CDN.
(function () {
  "use strict";
  var zone = document.getElementById("dropzone");
  if (!zone) { return; }
  var input = zone.querySelector("input[type=file]");
  var list = document.getElementById("dropzone-list");
  var maxBytes = (parseFloat(zone.getAttribute("data-max-mb")) || 0) * 1024 * 1024;

  function describe(size) {
    return size >= 1048576 ? (size / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(size / 1024)) + " KB";
  }

  function showChosen() {
    list.textContent = "";
    Array.prototype.forEach.call(input.files, function (file) {
      var item = document.createElement("li");
      item.textContent = file.name + " (" + describe(file.size) + ")";
      if (maxBytes && file.size > maxBytes) {
        item.className = "too-large";
        item.textContent += " — larger than " + zone.getAttribute("data-max-mb") + " MB, it will be refused";
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
})();
