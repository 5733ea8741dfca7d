// The import page: upload with a progress bar, show the preview, confirm the same file.
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form) return;
  var input = document.getElementById("import-file");
  var error = document.getElementById("err-file");
  var box = document.getElementById("import-progress");
  var bar = document.getElementById("import-bar");
  var status = document.getElementById("import-status");
  var preview = document.getElementById("import-preview");
  var button = document.getElementById("import-preview-btn");

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; }
    catch (e) { return ""; }
  }

  // A refusal of the whole file comes as the problem fragment (for #flash): take its message.
  function problemText(xhr) {
    var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    var slot = doc.getElementById("err-file");
    if (slot && slot.textContent.trim()) return slot.textContent.trim();
    var alert = doc.querySelector(".alert");
    return alert ? alert.textContent.replace(/\s+/g, " ").trim() : "";
  }

  function send(dryRun) {
    var file = input.files && input.files[0];
    error.textContent = "";
    if (!file) { error.textContent = "请选择要导入的文件(.xlsx 或 .csv)"; input.focus(); return; }
    var data = new FormData();
    data.append("file", file);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/imports/branches?dry_run=" + (dryRun ? "true" : "false"));
    xhr.setRequestHeader("HX-Request", "true");
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    box.hidden = false;
    bar.value = 0;
    bar.removeAttribute("aria-busy");
    status.textContent = "正在上传…";
    button.disabled = true;
    var confirm = document.getElementById("import-confirm");
    if (confirm) confirm.disabled = true;
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      bar.value = Math.round((e.loaded / e.total) * 100);
      status.textContent = "正在上传 " + bar.value + "%";
    };
    xhr.upload.onload = function () {
      bar.removeAttribute("value");  // indeterminate while the server checks
      status.textContent = dryRun ? "上传完成,正在逐行检查…" : "正在导入…";
    };
    xhr.onload = function () {
      button.disabled = false;
      box.hidden = true;
      var type = xhr.getResponseHeader("Content-Type") || "";
      var refused = xhr.getResponseHeader("HX-Retarget");
      if (!refused && type.indexOf("text/html") === 0 && (xhr.status === 200 || xhr.status === 422)) {
        preview.innerHTML = xhr.responseText;
        var ok = document.getElementById("import-confirm");
        if (ok) ok.addEventListener("click", function () { send(false); });
        preview.scrollIntoView({ behavior: "smooth", block: "start" });
        return;
      }
      preview.innerHTML = "";
      error.textContent = problemText(xhr) || "上传失败(" + xhr.status + "),请稍后重试";
      input.focus();
    };
    xhr.onerror = function () {
      button.disabled = false;
      box.hidden = true;
      error.textContent = "网络连接中断,文件没有上传成功,请重试";
    };
    xhr.send(data);
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); send(true); });
  var chosen = document.getElementById("import-file-name");
  input.addEventListener("change", function () {
    preview.innerHTML = "";
    error.textContent = "";
    var file = input.files && input.files[0];
    chosen.textContent = file ? "已选择:" + file.name : "尚未选择文件";
  });
})();
