// The screening checklist: gathers one result per criterion for the JSON body (hx-vals).
(function () {
  "use strict";
  window.rectifyChecklist = function () {
    var form = document.getElementById("screening-form");
    if (!form) { return []; }
    return Array.prototype.map.call(form.querySelectorAll("[data-criterion]"), function (row) {
      var code = row.getAttribute("data-criterion");
      var yes = row.querySelector('input[value="yes"]');
      var note = row.querySelector("textarea");
      return { code: code, hit: !!(yes && yes.checked), note: note && note.value.trim() ? note.value.trim() : null };
    });
  };
  document.addEventListener("change", function (evt) {
    var row = evt.target.closest && evt.target.closest("[data-criterion]");
    if (row) {
      var hit = row.querySelector('input[value="yes"]').checked;
      row.classList.toggle("is-hit", hit);
    }
  });
})();
