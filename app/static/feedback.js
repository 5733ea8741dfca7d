// Entering returned 党支部征求意见表 on a phone, on a weak or absent mobile signal.
//
// A submitted form goes first into a queue kept on the phone (IndexedDB, per account, see
// outbox.js; forms queued by an earlier version in localStorage are moved there), with a key
// made here; then it is sent to POST /api/v1/feedback-forms with that key as
// `Idempotency-Key`. Whatever happens to the connection, the same entry is always resent
// with the same key and the same bytes, so the server stores it once. The queue survives
// closing the browser; it is sent when the page is opened again, when the connection comes
// back, and every 20 seconds while something waits. A form the server refuses (any 4xx but 401/403/409/429)
// stays in the queue as 被退回 with the server's messages, to be corrected or discarded.
(function () {
  "use strict";

  var root = document.getElementById("fb");
  if (!root) { return; }

  var QUEUE_KEY = "rectify.feedback.queue";
  var DRAFT_KEY = "rectify.feedback.draft";
  var ENDPOINT = "/api/v1/feedback-forms";
  var TIMEOUT_MS = 15000;
  var RETRY_MS = 20000;
  var KEEP_SENT = 20;
  var SENT_TTL_MS = 24 * 3600 * 1000;
  var AUTH_MSG = "登录已过期,请重新登录后自动发送";

  var labels = { theme: {}, respondent_kind: {}, satisfaction: {}, field: {} };
  try { labels = JSON.parse(document.getElementById("fb-labels").textContent); } catch (e) { /* keep codes */ }
  var actor = root.getAttribute("data-actor") || "";

  var form = document.getElementById("fb-form");
  var queueBox = document.getElementById("fb-queue");
  var queueList = document.getElementById("fb-queue-list");
  var retryBtn = document.getElementById("fb-retry");
  var clearBtn = document.getElementById("fb-clear-sent");
  var netBox = document.getElementById("fb-net");
  var netText = document.getElementById("fb-net-text");
  var noticeBox = document.getElementById("fb-notice");

  // ------------------------------------------------------------------ the stored queue

  var outbox = window.RectifyOutbox;
  var KIND = "feedback";
  var memoryQueue = [];
  var loaded = false;
  var lastSave = Promise.resolve(true);

  function readQueue() { return memoryQueue; }

  // In memory at once; on the phone when the browser lets it (lastSave tells).
  function writeQueue(list) {
    memoryQueue = list;
    lastSave = outbox.save(KIND, list);
    lastSave.then(function (ok) { if (!ok) { storageWarning(); } });
  }

  function storageWarning() {
    notice("这部手机现在不能保存数据(存储已满或处于无痕模式):待发送的意见表只保存在本页面里," +
           "发送成功前请不要关闭本页面。", "warn");
  }

  // Forms an earlier version kept in localStorage: this account's move to the phone's
  // IndexedDB queue; other accounts' stay until they sign in here.
  function takeOldQueue(list) {
    var old;
    try { old = JSON.parse(window.localStorage.getItem(QUEUE_KEY) || "[]"); } catch (e) { return false; }
    if (!Array.isArray(old) || !old.length) { return false; }
    var moved = old.filter(function (e) { return e.actor === actor && !find(list, e.id); });
    moved.forEach(function (e) { list.push(e); });
    var rest = old.filter(function (e) { return e.actor !== actor; });
    try {
      if (rest.length) {
        window.localStorage.setItem(QUEUE_KEY, JSON.stringify(rest));
      } else {
        window.localStorage.removeItem(QUEUE_KEY);
      }
    } catch (e) { /* left there; find() keeps it from being taken twice */ }
    return moved.length > 0;
  }

  function find(list, id) {
    for (var i = 0; i < list.length; i++) { if (list[i].id === id) { return list[i]; } }
    return null;
  }

  // Change the queue and write it back in one go.
  function update(change) {
    var list = readQueue().slice();
    var result = change(list);
    prune(list);
    writeQueue(list);
    render();
    return result;
  }

  function patchEntry(id, changes) {
    update(function (list) {
      var entry = find(list, id);
      if (!entry) { return; }
      Object.keys(changes).forEach(function (k) { entry[k] = changes[k]; });
    });
  }

  function removeEntry(id) {
    update(function (list) {
      for (var i = list.length - 1; i >= 0; i--) { if (list[i].id === id) { list.splice(i, 1); } }
    });
  }

  // Sent entries stay visible a while (the last 20, for a day), without the form's content.
  function prune(list) {
    var now = Date.now();
    var sent = list.filter(function (e) { return e.state === "sent"; })
      .sort(function (a, b) { return (b.sent_at || 0) - (a.sent_at || 0); });
    var keep = {};
    sent.slice(0, KEEP_SENT).forEach(function (e) {
      if (now - (e.sent_at || 0) < SENT_TTL_MS) { keep[e.id] = true; }
    });
    for (var i = list.length - 1; i >= 0; i--) {
      if (list[i].state === "sent" && !keep[list[i].id]) { list.splice(i, 1); }
    }
  }

  function mine(entry) { return entry.actor === actor; }
  function waiting(entry) { return entry.state === "pending" || entry.state === "sending"; }

  // ------------------------------------------------------------------ sending

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (e) {
      return "";
    }
  }

  function classify(res, data) {
    var status = res.status;
    if (status === 200 || status === 201) {
      if (data && typeof data.id === "number") {
        return { kind: "sent", form_id: data.id,
                 replayed: res.headers.get("Idempotent-Replayed") === "true" };
      }
      // e.g. a Wi-Fi login page answering in the server's place
      return { kind: "retry", note: "收到的不是服务器的回复(网络可能需要登录),将自动重试" };
    }
    if (status === 401 || status === 403) {
      var detail = data && data.detail ? data.detail : "";
      return { kind: "auth", note: AUTH_MSG + (status === 403 && detail ? "(" + detail + ")" : "") };
    }
    if (status === 409) { return { kind: "retry", note: "服务器正在处理同一份表,稍后自动确认" }; }
    if (status === 429) { return { kind: "retry", note: "提交太频繁,稍后自动重试" }; }
    if (status >= 400 && status < 500) {  // 422, 413, 404...: resending the same cannot help
      return { kind: "rejected", detail: (data && data.detail) || "服务器退回了这份意见表",
               errors: (data && Array.isArray(data.errors)) ? data.errors : [] };
    }
    return { kind: "retry", note: "服务器暂时不可用(" + status + "),将自动重试" };
  }

  function post(entry) {
    var ctrl = typeof AbortController === "function" ? new AbortController() : null;
    var timer = setTimeout(function () { if (ctrl) { ctrl.abort(); } }, TIMEOUT_MS);
    return fetch(ENDPOINT, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRF-Token": csrfToken(),
        "Idempotency-Key": entry.key
      },
      body: entry.payload,
      signal: ctrl ? ctrl.signal : undefined
    }).then(function (res) {
      return res.text().then(function (text) {
        clearTimeout(timer);
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return classify(res, data);
      });
    }).catch(function (err) {
      clearTimeout(timer);
      var timedOut = err && err.name === "AbortError";
      return { kind: "retry", note: timedOut ? "发送超时,将自动重试" : "网络不通,将自动重试" };
    });
  }

  function applyOutcome(id, outcome) {
    update(function (list) {
      var entry = find(list, id);
      if (!entry) { return; }  // discarded or replaced meanwhile
      if (entry.state === "sent" && outcome.kind !== "sent") { return; }  // another send made it
      if (outcome.kind === "sent") {
        entry.state = "sent";
        entry.sent_at = entry.sent_at || Date.now();
        entry.form_id = outcome.form_id;
        entry.replayed = entry.replayed || outcome.replayed;
        entry.note = null; entry.errors = null; entry.detail = null;
        delete entry.payload;  // the content now lives on the server only
      } else if (outcome.kind === "rejected") {
        entry.state = "rejected";
        entry.detail = outcome.detail;
        entry.errors = outcome.errors;
        entry.note = null;
      } else {
        entry.state = "pending";
        entry.note = outcome.note;
      }
    });
  }

  var inFlight = {};

  // Send one entry (its own key, its own bytes); `force` sends even if a send is under way.
  function sendEntry(id, force) {
    if (inFlight[id] && !force) { return inFlight[id]; }
    var entry = find(readQueue(), id);
    if (!entry || !entry.payload || entry.state === "sent") { return Promise.resolve(null); }
    patchEntry(id, { state: "sending", attempts: (entry.attempts || 0) + 1, last_try: Date.now() });
    var p = post(entry).then(function (outcome) {
      applyOutcome(id, outcome);
      return outcome;
    });
    inFlight[id] = p;
    p.then(function () { if (inFlight[id] === p) { delete inFlight[id]; } });
    return p;
  }

  var flushing = null;

  // Send every waiting entry of this account, one after another; stop at a failed connection.
  function flush() {
    if (flushing) { return flushing; }
    if (navigator.onLine === false) { render(); return Promise.resolve(); }
    var ids = readQueue().filter(function (e) { return mine(e) && waiting(e); })
      .sort(function (a, b) { return a.created_at - b.created_at; })
      .map(function (e) { return e.id; });
    flushing = ids.reduce(function (chain, id) {
      return chain.then(function (stop) {
        if (stop || navigator.onLine === false) { return true; }
        return sendEntry(id).then(function (outcome) {
          return !!outcome && (outcome.kind === "retry" || outcome.kind === "auth");
        });
      });
    }, Promise.resolve(false)).then(function () { flushing = null; render(); },
                                     function () { flushing = null; render(); });
    return flushing;
  }

  // ------------------------------------------------------------------ the queue on screen

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function clock(ms) {
    var d = new Date(ms);
    var now = new Date();
    var hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
    if (d.toDateString() === now.toDateString()) { return hm; }
    return (d.getMonth() + 1) + "月" + d.getDate() + "日 " + hm;
  }

  function fieldLabel(field) {
    var m = /^opinions\.(\d+)(?:\.(\w+))?$/.exec(field || "");
    if (m) {
      var part = m[2] ? (labels.field[m[2]] || m[2]) : "";
      return "第 " + (Number(m[1]) + 1) + " 条意见" + (part ? "·" + part : "");
    }
    if (!field || field === "body") { return ""; }
    return labels.field[field] || field;
  }

  function messagesOf(entry) {
    var errors = entry.errors || [];
    if (!errors.length) { return [entry.detail || "服务器退回了这份意见表"]; }
    return errors.map(function (e) {
      var name = fieldLabel(e.field);
      return (name ? name + ":" : "") + e.message;
    });
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function stateText(entry) {
    if (entry.state === "sent") { return "已发送 " + clock(entry.sent_at); }
    if (entry.state === "sending") { return "发送中"; }
    if (entry.state === "rejected") { return "被退回"; }
    return "待发送";
  }

  function summaryNode(s) {
    var parts = [];
    if (s.branch) { parts.push(s.branch); }
    parts.push(labels.respondent_kind[s.kind] || s.kind);
    parts.push(s.anonymous ? "匿名" : "实名");
    if (s.satisfaction) { parts.push(labels.satisfaction[s.satisfaction] || s.satisfaction); }
    parts.push(s.opinions + " 条意见");
    var p = el("p", "fb-entry-what");
    parts.forEach(function (part, i) {
      if (i) { p.appendChild(document.createTextNode(" · ")); }
      p.appendChild(el("span", null, part));
    });
    return p;
  }

  function entryItem(entry) {
    var li = el("li", "fb-entry");
    li.setAttribute("data-state", entry.state);
    li.setAttribute("data-id", entry.id);
    var top = el("div", "fb-entry-top");
    top.appendChild(el("span", "fb-badge", stateText(entry)));
    top.appendChild(el("span", "fb-entry-when muted", "填写于 " + clock(entry.created_at)));
    li.appendChild(top);
    var s = entry.summary || {};
    li.appendChild(summaryNode(s));
    if (s.first) { li.appendChild(el("p", "fb-entry-text", "“" + s.first + "”")); }
    if (!mine(entry)) {
      li.appendChild(el("p", "fb-entry-note", "由其他账号(" + entry.actor.replace(/^user:/, "") +
        ")录入,需该账号登录后才会发送"));
    } else if (entry.state === "rejected") {
      li.appendChild(el("p", "fb-entry-note", "服务器退回了这份表,请按提示修改后重新发送:"));
      var ul = el("ul", "fb-entry-errors");
      messagesOf(entry).forEach(function (m) { ul.appendChild(el("li", null, m)); });
      li.appendChild(ul);
    } else if (entry.state === "pending" && entry.note) {
      li.appendChild(el("p", "fb-entry-note", entry.note));
    } else if (entry.state === "sent" && entry.replayed) {
      li.appendChild(el("p", "fb-entry-note muted", "服务器已确认收到(重复发送只存一份)"));
    }
    if (mine(entry) && entry.state === "pending" && entry.note === AUTH_MSG) {
      var login = el("a", "btn btn-small", "重新登录");
      login.href = "/login?next=/feedback/new";
      li.appendChild(login);
    }
    var actions = el("div", "fb-entry-actions");
    if (mine(entry) && entry.state === "rejected" && form) {
      var edit = el("button", "btn btn-small btn-primary", "修改后重新发送");
      edit.type = "button";
      edit.setAttribute("data-edit", entry.id);
      actions.appendChild(edit);
    }
    if (entry.state === "rejected" || (!mine(entry) && entry.state !== "sent")) {
      var drop = el("button", "btn btn-small btn-danger", "放弃这份");
      drop.type = "button";
      drop.setAttribute("data-discard", entry.id);
      actions.appendChild(drop);
    }
    if (actions.childNodes.length) { li.appendChild(actions); }
    if (editingId === entry.id) { li.classList.add("is-editing"); }
    return li;
  }

  function render() {
    var list = readQueue().slice().sort(function (a, b) { return b.created_at - a.created_at; });
    queueList.textContent = "";
    list.forEach(function (entry) { queueList.appendChild(entryItem(entry)); });
    queueBox.hidden = list.length === 0;
    var pending = list.filter(function (e) { return mine(e) && waiting(e); }).length;
    var sent = list.filter(function (e) { return mine(e) && e.state === "sent"; }).length;
    retryBtn.hidden = !(pending && navigator.onLine !== false && !flushing);
    clearBtn.hidden = !sent;
    renderNet(pending);
    if (noticeFor) {
      var about = find(list, noticeFor);
      if (!about || !waiting(about)) { notice(null); }
    }
  }

  function renderNet(pending) {
    var online = navigator.onLine !== false;
    netBox.setAttribute("data-state", online ? "online" : "offline");
    var text = online ? "在线" : "离线";
    if (pending) { text += " · " + pending + " 份待发送"; }
    if (!online) { text += (pending ? "," : " · ") + "有信号后自动发送"; }
    netText.textContent = text;
  }

  var noticeFor = null;  // the entry the notice speaks of; it goes once that one is settled

  function notice(text, kind, entryId) {
    noticeFor = entryId || null;
    if (!text) { noticeBox.hidden = true; noticeBox.textContent = ""; return; }
    noticeBox.textContent = text;
    noticeBox.className = "fb-notice alert " + (kind === "warn" ? "alert-warn" : "alert-ok");
    noticeBox.hidden = false;
  }

  queueList.addEventListener("click", function (evt) {
    var edit = evt.target.closest("[data-edit]");
    var drop = evt.target.closest("[data-discard]");
    if (edit) { editEntry(edit.getAttribute("data-edit")); }
    if (drop && window.confirm("放弃这份意见表?放弃后不会发送,也无法恢复。")) {
      var id = drop.getAttribute("data-discard");
      if (editingId === id) { stopEditing(); }
      removeEntry(id);
    }
  });
  retryBtn.addEventListener("click", function () { flush(); });
  clearBtn.addEventListener("click", function () {
    update(function (list) {
      for (var i = list.length - 1; i >= 0; i--) {
        if (mine(list[i]) && list[i].state === "sent") { list.splice(i, 1); }
      }
    });
  });

  // ------------------------------------------------------------------ the form

  var editingId = null;
  var rows = form ? document.getElementById("fb-opinions") : null;
  var tpl = document.getElementById("fb-opinion-tpl");
  var errorBox = document.getElementById("fb-errors");
  var anonymous = document.getElementById("fb-anonymous");
  var nameField = document.getElementById("fb-name-field");
  var nameInput = document.getElementById("fb-name");
  var sendBtn = document.getElementById("fb-send");
  var rowSeq = 0;

  function rowItems() { return Array.prototype.slice.call(rows.querySelectorAll(".fb-opinion")); }

  function renumber() {
    var items = rowItems();
    items.forEach(function (li, i) {
      var no = i + 1;
      li.querySelector("[data-no]").textContent = String(no);
      li.querySelector('[data-name="text"]').setAttribute("aria-label", "第 " + no + " 条意见内容");
      li.querySelector('[data-name="theme"]').setAttribute("aria-label", "第 " + no + " 条意见类别");
      var remove = li.querySelector("[data-remove]");
      remove.setAttribute("aria-label", "删除第 " + no + " 条意见");
      remove.hidden = items.length === 1;
    });
  }

  function countText(ta) {
    var counter = ta.parentNode.querySelector("[data-count]");
    var n = ta.value.length;
    counter.textContent = n > 800 ? n + " / 1000 字" : "";
  }

  function addRow(values, focus) {
    rowSeq += 1;
    var li = tpl.content.firstElementChild.cloneNode(true);
    var ta = li.querySelector('[data-name="text"]');
    var sel = li.querySelector('[data-name="theme"]');
    ta.id = "fb-op-text-" + rowSeq;
    sel.id = "fb-op-theme-" + rowSeq;
    li.querySelector('[data-for="text"]').setAttribute("for", ta.id);
    li.querySelector('[data-for="theme"]').setAttribute("for", sel.id);
    var textErr = li.querySelector('[data-error="text"]');
    var themeErr = li.querySelector('[data-error="theme"]');
    textErr.id = "err-" + ta.id;
    themeErr.id = "err-" + sel.id;
    ta.setAttribute("aria-describedby", textErr.id);
    sel.setAttribute("aria-describedby", themeErr.id);
    if (values) {
      ta.value = values.text || "";
      sel.value = values.theme || "";
    }
    ta.addEventListener("input", function () { countText(ta); });
    li.querySelector("[data-remove]").addEventListener("click", function () {
      var no = li.querySelector("[data-no]").textContent;
      if (ta.value.trim() && !window.confirm("删除第 " + no + " 条意见?已填写的内容会丢失。")) { return; }
      var next = li.nextElementSibling || li.previousElementSibling;
      li.parentNode.removeChild(li);
      renumber();
      saveDraft();
      if (next) { next.querySelector("textarea").focus(); }
    });
    rows.appendChild(li);
    countText(ta);
    renumber();
    if (focus) {
      ta.focus();
      li.scrollIntoView({ block: "center" });
    }
    return li;
  }

  function checkedValue(name) {
    var input = form.querySelector('input[name="' + name + '"]:checked');
    return input ? input.value : "";
  }

  function setChecked(name, value) {
    form.querySelectorAll('input[name="' + name + '"]').forEach(function (input) {
      input.checked = input.value === (value || "");
    });
  }

  function showName() {
    nameField.hidden = anonymous.checked;
  }

  function branchInput() { return form.querySelector('[name="branch_id"]'); }

  function branchName(id) {
    var input = branchInput();
    if (input.tagName === "SELECT") {
      var opt = input.querySelector('option[value="' + id + '"]');
      return opt ? opt.textContent : "";
    }
    var fixed = form.querySelectorAll(".fb-campaign strong");
    return fixed.length > 1 ? fixed[1].textContent : "";
  }

  // The form as it stands, for the draft and for editing.
  function rawValues() {
    return {
      branch_id: branchInput().value,
      respondent_kind: checkedValue("respondent_kind"),
      anonymous: anonymous.checked,
      respondent_name: nameInput.value,
      satisfaction: checkedValue("satisfaction"),
      opinions: rowItems().map(function (li) {
        return { text: li.querySelector("textarea").value, theme: li.querySelector("select").value };
      })
    };
  }

  function fill(values) {
    var branch = branchInput();
    if (branch.tagName === "SELECT" && values.branch_id !== undefined && values.branch_id !== null) {
      branch.value = String(values.branch_id);
    }
    if (values.respondent_kind) { setChecked("respondent_kind", values.respondent_kind); }
    anonymous.checked = values.anonymous !== false;
    nameInput.value = values.respondent_name || "";
    setChecked("satisfaction", values.satisfaction || "");
    showName();
    rows.textContent = "";
    var ops = values.opinions && values.opinions.length ? values.opinions : [null];
    ops.forEach(function (o) { addRow(o, false); });
  }

  function hasContent(values) {
    return !!(values.respondent_name && values.respondent_name.trim()) ||
      values.opinions.some(function (o) { return o.text.trim() || o.theme; });
  }

  function resetForm() {
    var branch = branchInput().value;
    form.reset();
    if (branchInput().tagName === "SELECT") { branchInput().value = branch; }
    clearErrors();
    rows.textContent = "";
    addRow(null, false);
    showName();
    sendBtn.textContent = "保存并发送";
  }

  // --- messages beside the fields

  function clearErrors() {
    form.querySelectorAll(".field-error").forEach(function (p) { p.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (x) { x.removeAttribute("aria-invalid"); });
    errorBox.hidden = true;
    errorBox.textContent = "";
  }

  // Where a field's message goes: [message slot, input to mark] (either may be null).
  function slotOf(field) {
    var m = /^opinions\.(\d+)(?:\.(\w+))?$/.exec(field || "");
    if (m) {
      var li = rowItems()[Number(m[1])];
      if (!li) { return [document.getElementById("err-opinions"), null]; }
      var part = m[2] === "theme" ? "theme" : "text";
      return [li.querySelector('[data-error="' + part + '"]'), li.querySelector('[data-name="' + part + '"]')];
    }
    var ids = {
      branch_id: "fb-branch", respondent_name: "fb-name", opinions: null,
      respondent_kind: null, satisfaction: null
    };
    if (!(field in ids)) { return [null, null]; }
    return [document.getElementById("err-" + field), ids[field] ? document.getElementById(ids[field]) : null];
  }

  // errors: [{field, message}]; every message also goes into the summary above the button.
  function showErrors(errors, heading) {
    var first = null;
    var summary = [];
    errors.forEach(function (e) {
      var slot = slotOf(e.field);
      if (slot[0]) { slot[0].textContent = e.message; }
      if (slot[1] && slot[1].type !== "hidden") {
        slot[1].setAttribute("aria-invalid", "true");
        if (!first) { first = slot[1]; }
      }
      var name = fieldLabel(e.field);
      summary.push((name ? name + ":" : "") + e.message);
    });
    errorBox.textContent = "";
    errorBox.appendChild(el("strong", null, heading || "请先改正以下内容:"));
    var ul = el("ul");
    summary.forEach(function (m) { ul.appendChild(el("li", null, m)); });
    errorBox.appendChild(ul);
    errorBox.hidden = false;
    if (first) {
      first.focus();
      first.scrollIntoView({ block: "center" });
    } else {
      errorBox.focus();
      errorBox.scrollIntoView({ block: "center" });
    }
  }

  // The body of POST /feedback-forms, or the messages that stop it.
  function collect() {
    var errors = [];
    var v = rawValues();
    var branchId = parseInt(v.branch_id, 10);
    if (!branchId) { errors.push({ field: "branch_id", message: "请选择党支部" }); }
    var name = (v.respondent_name || "").trim();
    if (!v.anonymous && !name) { errors.push({ field: "respondent_name", message: "实名填写须提供填表人姓名" }); }
    var opinions = [];
    var filled = v.opinions.filter(function (o) { return o.text.trim() || o.theme; }).length;
    v.opinions.forEach(function (o, i) {
      var text = o.text.trim();
      if (!text && !o.theme && filled) { return; }  // an untouched extra row
      if (!text) { errors.push({ field: "opinions." + i + ".text", message: "请填写意见内容" }); }
      if (!o.theme) { errors.push({ field: "opinions." + i + ".theme", message: "请选择意见类别" }); }
      opinions.push({ text: text, theme: o.theme });
    });
    var body = {
      campaign_id: parseInt(form.querySelector('[name="campaign_id"]').value, 10),
      branch_id: branchId,
      respondent_kind: v.respondent_kind || "party_member",
      anonymous: !!v.anonymous,
      respondent_name: v.anonymous ? null : name,
      satisfaction: v.satisfaction || null,
      opinions: opinions
    };
    return { body: body, errors: errors };
  }

  function summarize(body) {
    return {
      branch: branchName(body.branch_id), kind: body.respondent_kind, anonymous: body.anonymous,
      satisfaction: body.satisfaction, opinions: body.opinions.length,
      first: body.opinions.length ? body.opinions[0].text.slice(0, 60) +
        (body.opinions[0].text.length > 60 ? "…" : "") : ""
    };
  }

  // --- editing a form the server sent back

  function editEntry(id) {
    var entry = find(readQueue(), id);
    if (!entry || !entry.payload) { return; }
    var current = rawValues();
    if (editingId !== id && hasContent(current) &&
        !window.confirm("表单里还有没保存的内容,继续会被这份被退回的表替换。继续吗?")) {
      return;
    }
    var body = JSON.parse(entry.payload);
    editingId = id;
    clearErrors();
    fill(body);
    sendBtn.textContent = "改好了,重新发送";
    notice("正在修改一份被退回的意见表。改好后点“改好了,重新发送”;这份表在发送成功前一直保留在手机上。", "warn");
    render();
    saveDraft();
    showErrors(entry.errors && entry.errors.length ? entry.errors : [{ field: "", message: entry.detail || "服务器退回了这份意见表" }],
               "服务器退回的原因:");
  }

  function stopEditing() {
    editingId = null;
    sendBtn.textContent = "保存并发送";
    notice(null);
  }

  // --- the draft: what is typed survives a reload or a closed browser

  var draftTimer = null;

  function saveDraft() {
    if (!form) { return; }
    clearTimeout(draftTimer);
    draftTimer = setTimeout(function () {
      try {
        var values = rawValues();
        if (!hasContent(values) && !editingId) {
          window.localStorage.removeItem(DRAFT_KEY);
        } else {
          window.localStorage.setItem(DRAFT_KEY, JSON.stringify({ actor: actor, editing: editingId, values: values }));
        }
      } catch (e) { /* storage unavailable: nothing to do */ }
    }, 300);
  }

  function clearDraft() {
    clearTimeout(draftTimer);
    try { window.localStorage.removeItem(DRAFT_KEY); } catch (e) { /* ignore */ }
  }

  function restoreDraft() {
    var draft = null;
    try { draft = JSON.parse(window.localStorage.getItem(DRAFT_KEY) || "null"); } catch (e) { draft = null; }
    if (!draft || draft.actor !== actor || !draft.values) { return false; }
    fill(draft.values);
    if (draft.editing && find(readQueue(), draft.editing)) {
      editingId = draft.editing;
      sendBtn.textContent = "改好了,重新发送";
      notice("正在修改一份被退回的意见表。改好后点“改好了,重新发送”。", "warn");
    } else if (hasContent(draft.values)) {
      notice("已恢复上次没有提交的内容。", "warn");
    }
    return true;
  }

  if (form) {
    document.getElementById("fb-add").addEventListener("click", function () {
      addRow(null, true);
      saveDraft();
    });
    anonymous.addEventListener("change", function () {
      showName();
      if (!anonymous.checked) { nameInput.focus(); }
    });
    form.addEventListener("input", saveDraft);
    form.addEventListener("change", saveDraft);
    // an answered field loses its message
    form.addEventListener("input", function (evt) {
      var t = evt.target;
      if (t.getAttribute && t.getAttribute("aria-invalid")) {
        t.removeAttribute("aria-invalid");
        var slot = document.getElementById("err-" + t.id);
        if (slot) { slot.textContent = ""; }
      }
    });
    form.addEventListener("submit", function (evt) {
      evt.preventDefault();
      if (!loaded) { return; }  // the queue is read in a moment
      clearErrors();
      var result = collect();
      if (result.errors.length) { showErrors(result.errors); return; }
      var key = window.RectifyOutbox.newKey();  // outbox.js, loaded by every signed-in page
      var entry = {
        id: key, key: key, actor: actor, state: "pending", created_at: Date.now(),
        payload: JSON.stringify(result.body), summary: summarize(result.body), attempts: 0
      };
      var replaced = editingId;
      update(function (list) {
        for (var i = list.length - 1; i >= 0; i--) { if (list[i].id === replaced) { list.splice(i, 1); } }
        list.push(entry);
      });
      stopEditing();
      resetForm();
      clearDraft();
      notice("正在保存到手机……", "ok", entry.id);
      lastSave.then(function (ok) {
        if (!ok) { storageWarning(); return; }
        notice(navigator.onLine === false ? "已保存在手机上,有信号后自动发送。可以接着录入下一份。"
                                          : "已保存在手机上,正在发送。可以接着录入下一份。",
               "ok", entry.id);
      });
      window.scrollTo(0, 0);  // the network line and the queue, with the new entry on top
      flush();
    });
  }

  // ------------------------------------------------------------------ when to send

  function start(list) {
    memoryQueue = list.slice();
    loaded = true;
    var moved = takeOldQueue(memoryQueue);
    var stale = memoryQueue.some(function (e) { return mine(e) && e.state === "sending"; });
    // A send cut short by closing the page left its entry "sending": it waits again.
    if (moved || stale) {
      update(function (l) {
        l.forEach(function (e) { if (mine(e) && e.state === "sending") { e.state = "pending"; } });
      });
    }
    if (!outbox.stored(KIND)) { storageWarning(); }
    if (form && !restoreDraft()) { resetForm(); }
    render();
    flush();
  }

  window.addEventListener("online", function () { render(); flush(); });
  window.addEventListener("offline", function () { render(); });
  // another tab changed the queue
  outbox.onChange(function (kind, fromElsewhere) {
    if (kind === KIND && fromElsewhere) {
      outbox.load(KIND).then(function (list) { memoryQueue = list.slice(); render(); });
    }
  });
  window.addEventListener("pageshow", function () { if (loaded) { render(); flush(); } });
  document.addEventListener("visibilitychange", function () {
    if (loaded && document.visibilityState === "visible") { flush(); }
  });
  setInterval(function () {
    if (readQueue().some(function (e) { return mine(e) && e.state === "pending"; })) { flush(); }
  }, RETRY_MS);

  // For tests and the curious: the queue and its sending, without the form.
  window.RectifyFeedback = {
    queue: readQueue,
    flush: flush,
    add: function (entry) { update(function (list) { list.push(entry); }); return lastSave; },
    sendNow: function (id) { return sendEntry(id, true); }
  };

  outbox.load(KIND).then(start);
})();
