// The service worker that keeps the feedback entry page (/feedback/new) usable without a
// signal: the page and its static files are cached, so a reload while offline still shows
// the form and the forms waiting on the phone. It never touches /api/ and never anything
// but GET: forms are sent by the page itself (feedback.js), each with its Idempotency-Key.
"use strict";

var VERSION = "v1";
var PREFIX = "rectify-feedback-";
var CACHE = PREFIX + VERSION;
var PAGE = "/feedback/new";
var NAV_TIMEOUT_MS = 6000;  // a slow network: show the cached page, refresh it behind
var STATIC = [
  "/static/app.css",
  "/static/ledger.css",
  "/static/feedback.css",
  "/static/feedback.js",
  "/static/app.js",
  "/static/vendor/htmx-2.0.8/htmx.min.js",
  "/static/vendor/htmx-ext-json-enc-2.0.3/json-enc.js"
];

// Only the page itself, signed in: not a redirect to the login page, not an error page.
function isGoodPage(response) {
  return !!response && response.ok && !response.redirected && response.type === "basic" &&
    (response.headers.get("Content-Type") || "").indexOf("text/html") === 0;
}

function storePage(response) {
  if (!isGoodPage(response)) { return Promise.resolve(); }
  var copy = response.clone();
  return caches.open(CACHE).then(function (cache) { return cache.put(PAGE, copy); });
}

// The files the page links (/static/...), so a stylesheet added to the layout later is
// kept too, not only the ones listed above.
function linkedFiles(response) {
  return response.clone().text().then(function (html) {
    var found = [];
    var re = /(?:href|src)="(\/static\/[^"?#]+)"/g;
    var m;
    while ((m = re.exec(html)) !== null) { found.push(m[1]); }
    return found;
  });
}

function addAll(cache, urls) {
  return Promise.all(urls.map(function (url) {
    return cache.add(new Request(url, { cache: "reload" })).catch(function () {});
  }));
}

self.addEventListener("install", function (event) {
  self.skipWaiting();
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    var page = fetch(PAGE, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!isGoodPage(response)) { return; }
        return Promise.all([storePage(response), linkedFiles(response).then(function (urls) {
          return addAll(cache, urls.filter(function (u) { return STATIC.indexOf(u) < 0; }));
        })]);
      }).catch(function () {});
    return Promise.all([addAll(cache, STATIC), page]);
  }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf(PREFIX) === 0 && n !== CACHE; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function offlinePage() {
  var html = '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>没有网络</title></head>' +
    '<body style="font-family:sans-serif;padding:1.5rem;line-height:1.6">' +
    "<h1>没有网络</h1><p>这部手机上还没有保存录入页面。请在有信号时打开一次“录入征求意见表”," +
    "之后没有信号也能录入。</p><p><a href=\"/feedback/new\">重试</a></p></body></html>";
  return new Response(html, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

// Network first (the freshest page, a fresh CSRF token); the cached copy when the network
// fails, or when it is slower than NAV_TIMEOUT_MS and a copy exists.
function entryPage(event) {
  var network = fetch(event.request);
  // keeps the worker alive until the fresh copy is stored, even after a cached answer
  event.waitUntil(network.then(storePage).catch(function () {}));
  return new Promise(function (resolve) {
    var done = false;
    function finish(response) {
      if (!done && response) { done = true; resolve(response); }
    }
    var timer = setTimeout(function () { caches.match(PAGE).then(finish); }, NAV_TIMEOUT_MS);
    network.then(function (response) {
      clearTimeout(timer);
      finish(response);
    }, function () {
      clearTimeout(timer);
      caches.match(PAGE).then(function (cached) { finish(cached || offlinePage()); });
    });
  });
}

// Cache first, refreshed behind, so a later visit gets a changed file.
function staticFile(event) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(event.request).then(function (hit) {
      var network = fetch(event.request).then(function (response) {
        if (response.ok && response.type === "basic") {
          return cache.put(event.request, response.clone()).then(function () { return response; });
        }
        return response;
      });
      if (hit) {
        event.waitUntil(network.catch(function () {}));
        return hit;
      }
      return network;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) { return; }
  if (request.mode === "navigate" && url.pathname === PAGE) {
    event.respondWith(entryPage(event));
  } else if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(staticFile(event));
  }
});
