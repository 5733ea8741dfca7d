// Small behaviour shared by every page. htmx and json-enc do the requests.
(function () {
  "use strict";

  // The service worker keeps the secretary's pages and their files on the phone (sw.js).
  // The stored pages belong to the account signed in: on the sign-in page they are dropped,
  // so the next account on a shared phone never sees them offline. It is registered from
  // signed-in pages only, so the pages it stores when installing are that account's.
  if ("serviceWorker" in navigator) {
    if (location.pathname === "/login" && window.caches) {
      window.caches.delete("rectify-pages").catch(function () {});
    }
    if (document.body && document.body.getAttribute("data-user")) {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
      // a page opened before the worker ran is kept too: ask it to store this one
      navigator.serviceWorker.ready.then(function (reg) {
        if (reg.active) { reg.active.postMessage({ type: "keep-page", path: location.pathname }); }
      }).catch(function () {});
    }
  }

  function flash() { return document.getElementById("flash"); }

  // Bring a message into view and give it focus, so it is seen and read out.
  function showFlash() {
    var box = flash();
    if (!box || !box.textContent.trim()) { return; }
    box.scrollIntoView({ block: "nearest" });
    box.focus({ preventScroll: true });
  }

  // Before a request: clear the previous messages, show progress.
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var form = evt.detail.elt.closest("form");
    if (form) {
      form.querySelectorAll(".field-error").forEach(function (p) { p.textContent = ""; });
      form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    }
    var box = flash();
    if (box) { box.innerHTML = ""; }
    document.body.classList.add("busy");
  });

  // A filter left at "全部" or blank is no filter: leave it out of the query string.
  document.addEventListener("htmx:configRequest", function (evt) {
    if (evt.detail.verb !== "get") { return; }
    var data = evt.detail.formData;
    var blank = [];
    data.forEach(function (value, key) {
      if (typeof value === "string" && value.trim() === "" && data.getAll(key).every(function (v) { return v === ""; })) {
        blank.push(key);
      }
    });
    blank.forEach(function (key) { data.delete(key); });
  });

  document.addEventListener("htmx:afterRequest", function (evt) {
    document.body.classList.remove("busy");
    // A filter form keeps its filters in the page's address, so reload and sharing keep them.
    var form = evt.detail.elt;
    var pageUrl = form && form.getAttribute && form.getAttribute("data-page-url");
    if (pageUrl && evt.detail.successful) {
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, key) {
        if (typeof value === "string" && value.trim() !== "") { params.append(key, value.trim()); }
      });
      var query = params.toString();
      history.replaceState(history.state, "", pageUrl + (query ? "?" + query : ""));
    }
  });

  // An error answer lands in #flash with each field's message swapped in beside its field:
  // mark those inputs and move to the first; with no field to point at, show the message.
  document.addEventListener("htmx:afterSettle", function (evt) {
    if (!evt.detail.target || evt.detail.target.id !== "flash") { return; }
    var first = null;
    document.querySelectorAll(".field-error").forEach(function (p) {
      if (!p.textContent.trim()) { return; }
      var input = document.getElementById(p.id.replace(/^err-/, ""));
      if (input && input.type !== "hidden") {
        input.setAttribute("aria-invalid", "true");
        if (!first) { first = input; }
      }
    });
    if (first) {
      first.focus();
      first.scrollIntoView({ block: "center" });
    } else {
      showFlash();
    }
  });

  // A network failure is shown, never silent.
  function networkFailed() {
    document.body.classList.remove("busy");
    var box = flash();
    if (box) {
      box.innerHTML = '<div class="alert alert-error" role="alert"><strong>网络连接失败</strong> 请检查网络后重试,已填写的内容仍保留在页面上。</div>';
      showFlash();
    }
  }
  document.addEventListener("htmx:sendError", networkFailed);
  document.addEventListener("htmx:timeout", networkFailed);
})();
