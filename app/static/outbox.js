// What waits on this phone to be sent, per account: feedback forms (feedback.js) and progress
// reports with their photos (evidence.js). Kept in IndexedDB through idb-keyval, which holds
// photos as they are and is not affected by a full localStorage.
//
// Each list is stored under "<kind>:<user id>": another account signed in on the same phone
// neither sees nor sends them. The list in memory is the truth while the page is open; every
// change is written through. When the browser refuses to write (storage full, private mode)
// the entries stay in memory, the page says so, and they are still sent while it stays open.
// Other tabs hear of a change through a BroadcastChannel and read the list again.
(function () {
  "use strict";

  var user = document.body ? (document.body.getAttribute("data-user") || "") : "";
  var lib = window.idbKeyval;
  var store = null;
  try { store = lib ? lib.createStore("rectify", "outbox") : null; } catch (e) { store = null; }
  var channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("rectify-outbox") : null;
  var lists = {};  // kind -> the list in memory
  var failed = {};  // kind -> the last write was refused
  var listeners = [];

  function keyOf(kind) { return kind + ":" + user; }

  function notify(kind, fromElsewhere) {
    listeners.forEach(function (fn) {
      try { fn(kind, fromElsewhere); } catch (e) { /* one listener does not stop the others */ }
    });
  }

  // The account's list of `kind` (a Promise of an array, the same array on each call).
  function load(kind) {
    if (lists[kind]) { return Promise.resolve(lists[kind]); }
    if (!store || !user) {
      lists[kind] = [];
      return Promise.resolve(lists[kind]);
    }
    return lib.get(keyOf(kind), store).then(function (stored) {
      if (!lists[kind]) { lists[kind] = Array.isArray(stored) ? stored : []; }
      return lists[kind];
    }, function () {
      failed[kind] = true;
      if (!lists[kind]) { lists[kind] = []; }
      return lists[kind];
    });
  }

  // Keep `list` as the account's list of `kind`: in memory at once, on the phone when the
  // browser lets it. A Promise of true when written, false when refused.
  function save(kind, list) {
    lists[kind] = list;
    if (!store || !user) {
      failed[kind] = true;
      notify(kind, false);
      return Promise.resolve(false);
    }
    var written;
    try {
      written = lib.set(keyOf(kind), list, store);
    } catch (e) {
      written = Promise.reject(e);
    }
    return written.then(function () {
      failed[kind] = false;
      if (channel) { channel.postMessage({ user: user, kind: kind }); }
      notify(kind, false);
      return true;
    }, function () {
      failed[kind] = true;
      notify(kind, false);
      return false;
    });
  }

  if (channel) {
    channel.onmessage = function (evt) {
      var data = evt.data || {};
      if (data.user !== user || failed[data.kind]) { return; }  // unsaved entries here win
      delete lists[data.kind];
      load(data.kind).then(function () { notify(data.kind, true); });
    };
  }

  function newKey() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") { return c.randomUUID(); }
    var bytes = new Uint8Array(16);
    if (c && typeof c.getRandomValues === "function") {
      c.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) { bytes[i] = Math.floor(Math.random() * 256); }
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
      hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (e) {
      return "";
    }
  }

  window.RectifyOutbox = {
    user: user,
    load: load,
    save: save,
    // false while the last write of `kind` was refused: its entries live in this page only
    stored: function (kind) { return !failed[kind]; },
    onChange: function (fn) { listeners.push(fn); },
    newKey: newKey,
    csrfToken: csrfToken
  };
})();
