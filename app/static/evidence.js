// Evidence upload on the task page: list the chosen files and show upload progress.
(function () {
  "use strict";

  document.addEventListener("change", function (evt) {
    var input = evt.target;
    if (!input || input.id !== "update-files") { return; }
    var list = document.getElementById("file-list");
    if (!list) { return; }
    var names = Array.prototype.map.call(input.files, function (f) {
      return f.name + "(" + Math.max(1, Math.round(f.size / 1024)) + " KB)";
    });
    list.textContent = names.length ? "已选择:" + names.join("、") : "未选择文件";
  });

  function progressOf(evt) {
    var form = evt.target.closest ? evt.target.closest("#report-form") : null;
    return form ? form.querySelector("#upload-progress") : null;
  }

  document.addEventListener("htmx:xhr:loadstart", function (evt) {
    var bar = progressOf(evt);
    if (bar) { bar.hidden = false; bar.value = 0; }
  });

  document.addEventListener("htmx:xhr:progress", function (evt) {
    var bar = progressOf(evt);
    if (bar && evt.detail.lengthComputable) {
      bar.value = Math.round((evt.detail.loaded / evt.detail.total) * 100);
      bar.textContent = bar.value + "%";
    }
  });
})();
