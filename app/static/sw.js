// The service worker that keeps a village secretary's pages usable without a signal: her
// home (我的任务), each task page and the feedback entry page open offline as they were on
// the last visit, and the static files they use come from the phone.
//
// The server writes the build hash and the hashed static URLs into this file (app/web/
// assets.py), so each build is a different worker: the browser installs it on the next
// online visit, and the files of the old build are dropped. Hashed files never change, so
// they are served from the cache first; pages are fetched from the network first (fresh
// data, a fresh CSRF token) and the stored copy is the fallback. It never touches /api/
// and never anything but GET: queued forms and reports are sent by the pages themselves.
"use strict";

var BUILD = "__BUILD__";
var ASSETS = __ASSETS__;
var PREFIX = "rectify-";
var STATIC_CACHE = PREFIX + "static-" + BUILD;
// the pages of the account signed in; app.js empties it when the account changes
var PAGE_CACHE = PREFIX + "pages";
var PRECACHE_PAGES = ["/my/tasks", "/feedback/new"];
var NAV_TIMEOUT_MS = 6000;  // a slow network: show the stored page, refresh it behind

function offlinePath(path) {
  return path === "/" || path === "/my/tasks" || path === "/feedback/new" ||
    /^\/tasks\/\d+$/.test(path);
}

// Only the page itself, signed in: not a redirect to the login page, not an error page.
function isGoodPage(response) {
  return !!response && response.ok && !response.redirected && response.type === "basic" &&
    (response.headers.get("Content-Type") || "").indexOf("text/html") === 0;
}

function storePage(path, response) {
  if (!isGoodPage(response)) { return Promise.resolve(); }
  var copy = response.clone();
  return caches.open(PAGE_CACHE).then(function (cache) { return cache.put(path, copy); });
}

function assetUrls() {
  return Object.keys(ASSETS).map(function (name) { return ASSETS[name]; });
}

self.addEventListener("install", function (event) {
  self.skipWaiting();
  event.waitUntil(caches.open(STATIC_CACHE).then(function (cache) {
    var files = Promise.all(assetUrls().map(function (url) {
      return cache.add(url).catch(function () {});
    }));
    var pages = Promise.all(PRECACHE_PAGES.map(function (path) {
      return fetch(path, { credentials: "same-origin", cache: "no-store" })
        .then(function (response) { return storePage(path, response); })
        .catch(function () {});
    }));
    return Promise.all([files, pages]);
  }));
});

// A signed-in page asks to be kept (it may have loaded before this worker ran): fetch it
// afresh and store it, if it is one of the pages that open offline.
self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "keep-page" || typeof data.path !== "string" || !offlinePath(data.path)) {
    return;
  }
  event.waitUntil(fetch(data.path, { credentials: "same-origin", cache: "no-store" })
    .then(function (response) { return storePage(data.path, response); })
    .catch(function () {}));
});

// The files of earlier builds go; the stored pages stay (their files are found by name).
self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) {
      return n.indexOf(PREFIX) === 0 && n !== STATIC_CACHE && n !== PAGE_CACHE;
    }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function offlinePage() {
  var html = '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>没有网络</title></head>' +
    '<body style="font-family:sans-serif;padding:1.5rem;line-height:1.6">' +
    "<h1>没有网络</h1><p>这个页面还没有保存在这部手机上。有信号时打开过的“我的任务”、任务页面和" +
    "“录入征求意见表”,没有信号时也能打开。</p>" +
    '<p><a href="/my/tasks">我的任务</a> · <a href="/feedback/new">录入征求意见表</a></p></body></html>';
  return new Response(html, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

function storedPage(path) {
  // the home page is the secretary's task list (`/` redirects there)
  var candidates = path === "/" ? ["/", "/my/tasks"] : [path];
  return caches.open(PAGE_CACHE).then(function (cache) {
    return candidates.reduce(function (found, key) {
      return found.then(function (hit) { return hit || cache.match(key); });
    }, Promise.resolve(undefined));
  });
}

// Network first; the stored copy when the network fails, or when it is slower than
// NAV_TIMEOUT_MS and a copy exists.
function page(event, path) {
  var network = fetch(event.request);
  // keeps the worker alive until the fresh copy is stored, even after a stored answer
  event.waitUntil(network.then(function (r) { return storePage(path, r); }).catch(function () {}));
  return new Promise(function (resolve) {
    var done = false;
    function finish(response) {
      if (!done && response) { done = true; resolve(response); }
    }
    var timer = setTimeout(function () { storedPage(path).then(finish); }, NAV_TIMEOUT_MS);
    network.then(function (response) {
      clearTimeout(timer);
      finish(response);
    }, function () {
      clearTimeout(timer);
      storedPage(path).then(function (stored) { finish(stored || offlinePage()); });
    });
  });
}

// `/static/<hash>/<name>` or `/static/<name>` → `<name>`
function assetName(path) {
  var rest = path.slice("/static/".length);
  var m = /^[0-9a-f]{12}\/(.+)$/.exec(rest);
  return m ? m[1] : rest;
}

// Cache first (a hashed file never changes); from the network otherwise, kept for later.
// Offline, a page stored under an earlier build asks for its files by their old hashes:
// it gets this build's file of the same name.
function staticFile(event, path) {
  return caches.open(STATIC_CACHE).then(function (cache) {
    return cache.match(event.request).then(function (hit) {
      if (hit) { return hit; }
      return fetch(event.request).then(function (response) {
        if (response.ok && response.type === "basic" && /^\/static\/[0-9a-f]{12}\//.test(path)) {
          return cache.put(event.request, response.clone()).then(function () { return response; });
        }
        return response;
      }, function (error) {
        var current = ASSETS[assetName(path)];
        return (current ? cache.match(current) : Promise.resolve(undefined)).then(function (r) {
          if (r) { return r; }
          throw error;
        });
      });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) { return; }
  if (request.mode === "navigate" && offlinePath(url.pathname)) {
    event.respondWith(page(event, url.pathname));
  } else if (request.mode === "navigate") {
    // any other page: as usual, and a page in Chinese instead of the browser's error
    event.respondWith(fetch(request).catch(offlinePage));
  } else if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(staticFile(event, url.pathname));
  }
});

self.addEventListener("message", function (event) {
  if (event.data && event.data.type === "build") {
    event.source.postMessage({ type: "build", build: BUILD });
  }
});
