// Rectification pages: values htmx sends as lists or objects (weak types, liaisons, item
// scores and ratings), and the score sheet's running total and grade before saving.
(function () {
  "use strict";

  function form(id) { return document.getElementById(id); }

  function number(input) {
    var v = (input.value || "").trim().replace(/[０-９．]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0xFEE0);
    });
    return v === "" ? null : Number(v);
  }

  var api = {
    checked: function (formId, name) {
      var out = [];
      form(formId).querySelectorAll('input[data-name="' + name + '"]:checked').forEach(function (b) { out.push(b.value); });
      return out;
    },
    liaisons: function (formId) {
      var out = [];
      form(formId).querySelectorAll(".liaison-row").forEach(function (row) {
        var name = row.querySelector('[data-part="name"]').value.trim();
        var post = row.querySelector('[data-part="post"]');
        if (name) { out.push({ role: row.dataset.role, name: name, post: post && post.value.trim() ? post.value.trim() : null }); }
      });
      return out;
    },
    itemScores: function () {
      var out = [];
      document.querySelectorAll("#score-sheet input.score").forEach(function (i) {
        var v = number(i);
        if (v !== null) { out.push({ code: i.dataset.code, score: String(v) }); }
      });
      return out;
    },
    ratings: function () {
      var out = [];
      document.querySelectorAll("#ratings tr.rating").forEach(function (row) {
        var r = { dimension: row.dataset.dimension, satisfied: 0, basic: 0, dissatisfied: 0 };
        var any = false;
        row.querySelectorAll("input").forEach(function (i) {
          var v = number(i);
          if (v !== null) { r[i.dataset.kind] = v; any = true; }
        });
        if (any) { out.push(r); }
      });
      return out;
    },
    // The same rule as the server (app/services/rectifications.grade_for), shown before saving.
    grade: function (total, ratings, pass, good) {
      var overall = ratings.filter(function (r) { return r.dimension === "overall"; })[0];
      if (overall && overall.dissatisfied * 2 > overall.satisfied + overall.basic + overall.dissatisfied) {
        return "不合格(一票否决)";
      }
      if (total < pass) { return "不合格"; }
      return total < good ? "基本合格" : "合格";
    }
  };
  window.rectify = api;

  function refresh() {
    var sheet = form("acceptance-form");
    if (!sheet) { return; }
    var total = 0;
    var complete = true;
    sheet.querySelectorAll("input.score").forEach(function (i) {
      var v = number(i);
      if (v === null) { complete = false; } else { total += v; }
    });
    total = Math.round(total * 100) / 100;
    form("total").textContent = total;
    form("total-2").textContent = total;
    var grade = api.grade(total, api.ratings(), Number(sheet.dataset.pass), Number(sheet.dataset.good));
    form("grade").textContent = complete ? grade : grade + "(尚未填完)";
  }

  document.addEventListener("input", function (evt) {
    if (evt.target.closest && evt.target.closest("#acceptance-form")) { refresh(); }
  });
  document.addEventListener("DOMContentLoaded", refresh);
})();
