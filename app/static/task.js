// Task pages: confirm a start, submit or cancel, and a due date already past, before sending.
(function () {
  "use strict";

  function pastDue(form) {
    var today = form.getAttribute("data-past-due");
    var input = form.querySelector("input[name=due_on]");
    if (!today || !input || !input.value) { return false; }
    var unchanged = input.value === form.getAttribute("data-due-was");
    return !unchanged && input.value < today;
  }

  document.addEventListener("htmx:confirm", function (evt) {
    var form = evt.detail.elt;
    if (!form || form.tagName !== "FORM") { return; }
    var trigger = evt.detail.triggeringEvent;
    var button = trigger && trigger.submitter;
    var question = button && button.getAttribute("data-confirm");
    var allow = form.querySelector("input[name=allow_past_due]");
    if (allow) { allow.value = "false"; }
    if (allow && pastDue(form)) {
      question = (question ? question + "\n" : "") +
        "整改时限早于今天,保存后任务立即逾期。确属补录,仍要保存吗?";
    }
    if (!question) { return; }
    evt.preventDefault();
    if (window.confirm(question)) {
      if (allow && pastDue(form)) { allow.value = "true"; }
      evt.detail.issueRequest(true);
    }
  });
})();
