// Small behaviour shared by every page. htmx and json-enc do the requests.
(function () {
  "use strict";

  // Before a request: clear the previous messages, show progress.
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var form = evt.detail.elt.closest("form");
    if (form) {
      form.querySelectorAll(".field-error").forEach(function (p) { p.textContent = ""; });
      form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    }
    var flash = document.getElementById("flash");
    if (flash) { flash.innerHTML = ""; }
    document.body.classList.add("busy");
  });

  document.addEventListener("htmx:afterRequest", function () {
    document.body.classList.remove("busy");
  });

  // After field errors arrive (out-of-band), mark their inputs and bring the first into view.
  document.addEventListener("htmx:afterSettle", function () {
    var first = null;
    document.querySelectorAll(".field-error").forEach(function (p) {
      if (!p.textContent.trim()) { return; }
      var input = document.getElementById(p.id.replace(/^err-/, ""));
      if (input) {
        input.setAttribute("aria-invalid", "true");
        if (!first) { first = input; }
      }
    });
    if (first && document.activeElement && document.activeElement.closest("form")) {
      first.focus({ preventScroll: false });
    }
  });

  // A network failure is shown, never silent.
  document.addEventListener("htmx:sendError", function () {
    var flash = document.getElementById("flash");
    if (flash) {
      flash.innerHTML = '<div class="alert alert-error" role="alert"><strong>网络连接失败</strong> 请检查网络后重试。</div>';
    }
  });
})();
