// Progress reports with photos, from a phone on a weak or absent signal.
//
// On the task page the report form is not sent directly: photos are first made small on the
// phone (longest side 1600 px, JPEG, turned upright by their EXIF orientation, at most
// 500 KB), every file's size is checked, and the report goes into this account's queue on
// the phone (outbox.js, IndexedDB). It is then sent — on this page or any other page of the
// account, in the order entered, one at a time — with its own Idempotency-Key and always
// the same bytes (the multipart body is built here with a fixed boundary), so however often
// a send is cut off and repeated, the server stores the report once. The upload shows
// 正在上传 N%. A panel at the top of the page lists what is still waiting.
(function () {
  "use strict";

  var outbox = window.RectifyOutbox;
  if (!outbox || !outbox.user) { return; }

  var KIND = "reports";
  var MAX_SIDE = 1600;
  var PHOTO_LIMIT = 500 * 1024;
  var QUALITIES = [0.82, 0.7, 0.55, 0.4];
  var RETRY_MS = 20000;
  var TIMEOUT_MS = 180000;  // 500 KB at 400 kbit/s is 10 s; a stalled upload gives up later
  var KEEP_SENT_MS = 24 * 3600 * 1000;
  var AUTH_MSG = "登录已过期,请重新登录后自动发送";

  var queue = [];
  var loaded = false;
  var sending = null;  // the flush under way

  // ------------------------------------------------------------------ photos

  function jpegName(name) {
    var base = (name || "照片").replace(/\.[^.]*$/, "");
    return base + ".jpg";
  }

  function toJpeg(canvas, quality) {
    return new Promise(function (resolve, reject) {
      canvas.toBlob(function (blob) {
        if (blob) { resolve(blob); } else { reject(new Error("toBlob")); }
      }, "image/jpeg", quality);
    });
  }

  // A photo as it leaves the phone: upright, at most MAX_SIDE px, JPEG, at most PHOTO_LIMIT
  // where the quality ladder gets there. A file the browser cannot draw (a PDF, or a photo
  // kind it does not know) is sent as it is.
  function shrink(file) {
    var asIs = { name: file.name, type: file.type || "application/octet-stream", blob: file };
    if (!/^image\//.test(file.type) || typeof createImageBitmap !== "function") {
      return Promise.resolve(asIs);
    }
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(bitmap.width * scale));
      canvas.height = Math.max(1, Math.round(bitmap.height * scale));
      var ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";  // a transparent PNG gets a white ground, not black
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      if (bitmap.close) { bitmap.close(); }
      var i = 0;
      function attempt() {
        return toJpeg(canvas, QUALITIES[i]).then(function (blob) {
          if (blob.size > PHOTO_LIMIT && i < QUALITIES.length - 1) { i += 1; return attempt(); }
          return blob;
        });
      }
      return attempt();
    }).then(function (blob) {
      // never larger than what was chosen (a small JPEG may already be smaller)
      if (file.type === "image/jpeg" && file.size <= blob.size && file.size <= PHOTO_LIMIT) {
        return asIs;
      }
      return { name: jpegName(file.name), type: "image/jpeg", blob: blob };
    }, function () { return asIs; });
  }

  // ------------------------------------------------------------------ the request body

  function quoted(text) {
    return String(text).replace(/[\r\n]+/g, " ").replace(/"/g, "%22");
  }

  // multipart/form-data with the entry's own boundary: the same bytes on every send
  function body(entry) {
    var b = "--" + entry.boundary;
    var parts = [b + '\r\nContent-Disposition: form-data; name="note"\r\n\r\n', entry.note, "\r\n"];
    entry.files.forEach(function (f) {
      parts.push(b + '\r\nContent-Disposition: form-data; name="files"; filename="' +
                 quoted(f.name) + '"\r\nContent-Type: ' + f.type + "\r\n\r\n", f.blob, "\r\n");
    });
    parts.push(b + "--\r\n");
    return new Blob(parts);
  }

  // ------------------------------------------------------------------ the queue

  function find(id) {
    for (var i = 0; i < queue.length; i++) { if (queue[i].id === id) { return queue[i]; } }
    return null;
  }

  function waiting(e) { return e.state === "pending" || e.state === "sending"; }

  function save() {
    var now = Date.now();
    queue = queue.filter(function (e) {
      return e.state !== "sent" || now - (e.sent_at || 0) < KEEP_SENT_MS;
    });
    var done = outbox.save(KIND, queue);
    render();
    return done;
  }

  function patch(id, changes) {
    var e = find(id);
    if (!e) { return; }
    Object.keys(changes).forEach(function (k) { e[k] = changes[k]; });
  }

  function classify(status, data) {
    if (status === 201 || status === 200) {
      if (data && typeof data.id === "number") { return { kind: "sent" }; }
      return { kind: "retry", note: "收到的不是服务器的回复(网络可能需要登录),将自动重试" };
    }
    if (status === 400 || status === 404 || status === 413 || status === 422) {
      var msgs = data && Array.isArray(data.errors) && data.errors.length
        ? data.errors.map(function (e) { return e.message; }) : [];
      var detail = msgs.length ? msgs.join(";") : ((data && data.detail) || "服务器退回了这份进展");
      return { kind: "rejected", detail: detail };
    }
    if (status === 401 || status === 403) { return { kind: "auth", note: AUTH_MSG }; }
    if (status === 409) { return { kind: "retry", note: "服务器正在处理同一份进展,稍后自动确认" }; }
    if (status === 0) { return { kind: "retry", note: "网络不通,有信号后自动重试" }; }
    return { kind: "retry", note: "服务器暂时不可用(" + status + "),将自动重试" };
  }

  function post(entry) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/tasks/" + entry.task_id + "/updates");
      xhr.timeout = TIMEOUT_MS;
      xhr.setRequestHeader("Content-Type", "multipart/form-data; boundary=" + entry.boundary);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", outbox.csrfToken());
      xhr.setRequestHeader("Idempotency-Key", entry.key);
      var shown = -1;
      xhr.upload.onprogress = function (evt) {
        if (!evt.lengthComputable) { return; }
        var pct = Math.min(100, Math.round((evt.loaded / evt.total) * 100));
        if (pct !== shown) { shown = pct; patch(entry.id, { progress: pct }); render(); }
      };
      xhr.onload = function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        resolve(classify(xhr.status, data));
      };
      xhr.onerror = xhr.ontimeout = xhr.onabort = function () { resolve(classify(0, null)); };
      xhr.send(body(entry));
    });
  }

  function sendOne(id) {
    var entry = find(id);
    if (!entry || !waiting(entry)) { return Promise.resolve(null); }
    patch(id, { state: "sending", progress: 0, note_text: null, tries: (entry.tries || 0) + 1 });
    save();
    return post(entry).then(function (outcome) {
      if (outcome.kind === "sent") {
        patch(id, { state: "sent", sent_at: Date.now(), files_count: entry.files.length,
                    files: [], note_text: null });
      } else if (outcome.kind === "rejected") {
        patch(id, { state: "rejected", detail: outcome.detail });
      } else {
        patch(id, { state: "pending", note_text: outcome.note });
      }
      save();
      if (outcome.kind === "sent") { refreshTask(entry.task_id); }
      return outcome;
    });
  }

  // Every waiting report, oldest first, one at a time; stop at a failed connection or an
  // expired login, so none overtakes an earlier one.
  function flush() {
    if (!loaded || sending) { return sending || Promise.resolve(); }
    if (navigator.onLine === false) { render(); return Promise.resolve(); }
    var ids = queue.filter(waiting).sort(function (a, b) { return a.created_at - b.created_at; })
      .map(function (e) { return e.id; });
    if (!ids.length) { return Promise.resolve(); }
    sending = ids.reduce(function (chain, id) {
      return chain.then(function (stop) {
        if (stop || navigator.onLine === false) { return true; }
        return sendOne(id).then(function (o) { return !!o && (o.kind === "retry" || o.kind === "auth"); });
      });
    }, Promise.resolve(false)).then(function () { sending = null; render(); },
                                     function () { sending = null; render(); });
    return sending;
  }

  // ------------------------------------------------------------------ the task page

  function reportForm() { return document.getElementById("report-form"); }

  function say(text, kind) {
    var box = document.getElementById("upload-status");
    if (!box) { return; }
    box.textContent = text || "";
    box.className = "upload-status small" + (kind ? " is-" + kind : "");
    box.hidden = !text;
  }

  // After a report is stored, the task page shows it — unless a new one is being typed.
  function refreshTask(taskId) {
    var form = reportForm();
    var detail = document.getElementById("task-detail");
    if (!detail || !form || form.getAttribute("data-task-id") !== String(taskId)) { return; }
    var files = document.getElementById("update-files");
    var note = document.getElementById("update-note");
    var busy = (note && note.value.trim()) || (files && files.files && files.files.length);
    if (busy || !window.htmx) {
      say("整改进展已上报。刷新页面可在整改过程中看到。", "ok");
      return;
    }
    window.htmx.ajax("GET", "/api/v1/tasks/" + taskId, { target: "#task-detail", swap: "outerHTML" })
      .then(function () { say("整改进展已上报", "ok"); });
  }

  function fileError(text) {
    var slot = document.getElementById("err-files");
    if (slot) { slot.textContent = text || ""; }
    var input = document.getElementById("update-files");
    if (input) {
      if (text) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
    }
  }

  document.addEventListener("change", function (evt) {
    var input = evt.target;
    if (!input || input.id !== "update-files") { return; }
    fileError(null);
    var list = document.getElementById("file-list");
    if (!list) { return; }
    var names = Array.prototype.map.call(input.files, function (f) {
      return f.name + "(" + Math.max(1, Math.round(f.size / 1024)) + " KB)";
    });
    list.textContent = names.length ? "已选择:" + names.join("、") + "。照片会先在手机上压缩再上传。" : "未选择文件";
  });

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!form || form.id !== "report-form") { return; }
    evt.preventDefault();
    if (!loaded) { say("正在读取手机上待发送的内容,请稍候再点一次。", "warn"); return; }
    var note = form.querySelector("#update-note");
    var input = form.querySelector("#update-files");
    var noteSlot = document.getElementById("err-note-update");
    if (noteSlot) { noteSlot.textContent = ""; }
    fileError(null);
    if (!note.value.trim()) {
      if (noteSlot) { noteSlot.textContent = "请填写进展情况"; }
      note.setAttribute("aria-invalid", "true");
      note.focus();
      return;
    }
    note.removeAttribute("aria-invalid");
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 20 * 1024 * 1024;
    var chosen = Array.prototype.slice.call(input.files || []);
    var button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    var photos = chosen.filter(function (f) { return /^image\//.test(f.type); }).length;
    var done = 0;
    if (photos) { say("正在压缩照片 0/" + photos + "……"); }
    chosen.reduce(function (chain, file) {
      return chain.then(function (out) {
        return shrink(file).then(function (f) {
          if (/^image\//.test(file.type)) { done += 1; say("正在压缩照片 " + done + "/" + photos + "……"); }
          out.push(f);
          return out;
        });
      });
    }, Promise.resolve([])).then(function (files) {
      var tooBig = files.filter(function (f) { return f.blob.size > maxBytes; });
      if (tooBig.length) {
        fileError("文件“" + tooBig.map(function (f) { return f.name; }).join("、") + "”超过 " +
                  Math.round(maxBytes / 1048576) + " MB 的上限,请换一个较小的文件");
        say(null);
        return;
      }
      var key = outbox.newKey();
      var entry = {
        id: key, key: key, boundary: "----rectify" + key.replace(/-/g, ""),
        task_id: parseInt(form.getAttribute("data-task-id"), 10),
        task_title: form.getAttribute("data-task-title") || "",
        note: note.value.trim(), created_at: Date.now(), state: "pending", progress: 0,
        files: files.map(function (f) { return { name: f.name, type: f.type, size: f.blob.size, blob: f.blob }; })
      };
      queue.push(entry);
      say("正在保存到手机……");
      return save().then(function (stored) {
        form.reset();
        var list = document.getElementById("file-list");
        if (list) { list.textContent = "已清空,可以接着上报下一条"; }
        if (!stored) {
          say("这部手机现在不能保存数据(存储已满或处于无痕模式):这条进展只保存在本页面里,发送成功前请不要关闭本页面。", "warn");
        } else if (navigator.onLine === false) {
          say("离线:已保存在手机上,有信号后自动发送。", "ok");
        } else {
          say("已保存在手机上,正在发送……", "ok");
        }
        flush();
      });
    }).then(function () { button.disabled = false; }, function () {
      button.disabled = false;
      say("没能处理所选的文件,请重新选择。", "warn");
    });
  });

  // ------------------------------------------------------------------ what is waiting

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function stateText(e) {
    if (e.state === "sent") { return "已上报"; }
    if (e.state === "sending") { return "正在上传 " + (e.progress || 0) + "%"; }
    if (e.state === "rejected") { return "被退回:" + (e.detail || ""); }
    return "待发送" + (e.note_text ? "(" + e.note_text + ")" : "");
  }

  var feedbackWaiting = 0;

  function panel() {
    var box = document.getElementById("outbox");
    if (box) { return box; }
    var main = document.getElementById("main");
    if (!main) { return null; }
    box = el("section", "card outbox");
    box.id = "outbox";
    box.setAttribute("aria-live", "polite");
    box.hidden = true;
    main.insertBefore(box, main.firstChild);
    box.addEventListener("click", function (evt) {
      var drop = evt.target.closest("[data-discard]");
      if (drop && window.confirm("放弃这条进展?放弃后不会发送,也无法恢复。")) {
        var id = drop.getAttribute("data-discard");
        queue = queue.filter(function (e) { return e.id !== id; });
        save();
      }
      if (evt.target.closest("[data-send]")) { flush(); }
    });
    return box;
  }

  function render() {
    var box = panel();
    if (!box) { return; }
    var shown = queue.slice().sort(function (a, b) { return a.created_at - b.created_at; });
    var pending = shown.filter(waiting).length;
    var onFormPage = !!document.getElementById("fb");
    box.textContent = "";
    box.hidden = !shown.length && !(feedbackWaiting && !onFormPage);
    if (box.hidden) { return; }
    var head = el("h2", null, navigator.onLine === false ? "离线 · 手机上待发送" : "手机上待发送");
    box.appendChild(head);
    if (!outbox.stored(KIND)) {
      box.appendChild(el("p", "alert alert-warn",
        "这部手机现在不能保存数据(存储已满或处于无痕模式):下面的进展只保存在本页面里,发送成功前请不要关闭本页面。"));
    }
    if (feedbackWaiting && !onFormPage) {
      var p = el("p", null, "意见表 " + feedbackWaiting + " 份待发送,");
      var a = el("a", null, "打开录入页面发送");
      a.href = "/feedback/new";
      p.appendChild(a);
      box.appendChild(p);
    }
    if (shown.length) {
      var ul = el("ul", "outbox-list");
      shown.forEach(function (e) {
        var li = el("li", "outbox-item is-" + e.state);
        li.setAttribute("data-id", e.id);
        var count = e.state === "sent" ? (e.files_count || 0) : e.files.length;
        li.appendChild(el("strong", null, e.task_title || ("任务 " + e.task_id)));
        li.appendChild(el("span", "muted", " · " + e.note.slice(0, 30) + (e.note.length > 30 ? "…" : "") +
                                           (count ? " · " + count + " 个文件" : "")));
        li.appendChild(el("div", "outbox-state", stateText(e)));
        if (e.state === "rejected" || (e.state === "pending" && e.tries)) {
          var drop = el("button", "btn btn-small", "放弃");
          drop.type = "button";
          drop.setAttribute("data-discard", e.id);
          li.appendChild(drop);
        }
        ul.appendChild(li);
      });
      box.appendChild(ul);
    }
    if (pending && navigator.onLine !== false && !sending) {
      var retry = el("button", "btn btn-small", "立即发送");
      retry.type = "button";
      retry.setAttribute("data-send", "1");
      box.appendChild(retry);
    }
    var mine = document.getElementById("upload-status");
    var current = shown.filter(function (e) { return e.state === "sending"; })[0];
    if (mine && current && reportForm() &&
        reportForm().getAttribute("data-task-id") === String(current.task_id)) {
      say("正在上传 " + (current.progress || 0) + "%", null);
    }
  }

  // ------------------------------------------------------------------ when to send

  function start(list) {
    queue = list.slice();
    loaded = true;
    queue.forEach(function (e) { if (e.state === "sending") { e.state = "pending"; } });
    render();
    flush();
  }

  outbox.onChange(function (kind, fromElsewhere) {
    if (kind === KIND && fromElsewhere && !sending) {
      outbox.load(KIND).then(function (list) { queue = list.slice(); render(); });
    }
    if (kind === "feedback") { countFeedback(); }
  });

  function countFeedback() {
    outbox.load("feedback").then(function (list) {
      feedbackWaiting = list.filter(waiting).length;
      render();
    });
  }

  window.addEventListener("online", function () { render(); flush(); });
  window.addEventListener("offline", render);
  setInterval(function () { if (queue.some(waiting)) { flush(); } }, RETRY_MS);

  window.RectifyReports = { queue: function () { return queue; }, flush: flush, shrink: shrink };

  outbox.load(KIND).then(start);
  countFeedback();
})();
