/* pytaaa web site: live status of the background jobs.
 *
 * Works when the page is opened from disk (file://), where fetch and XHR do
 * not: every few seconds it injects a fresh <script src="pytaaa_job_KIND.js?t=...">,
 * which sets window.PYTAAA_JOBS[KIND] to the job's status.  It then
 *  - rewrites the banner line of the job ("Charts: 137 of 200 drawn", ...);
 *  - swaps "pending" boxes for their image once the file exists (while a
 *    progressive job runs: the boxes on screen; when a job finishes: all);
 *  - when a job finishes, reloads that job's images with a new ?v= query.
 * The page describes itself in window.PYTAAA_PAGE (kinds, labels, logs, the
 * finish time known when it was rendered, the progressive kinds).
 * Keep bannerText() in step with pytaaa.site.context.job_banner_text().
 */
(function () {
  "use strict";

  var page = window.PYTAAA_PAGE || {};
  var kinds = page.kinds || [];
  var labels = page.labels || {};
  var logs = page.logs || {};
  var progressive = page.progressive || [];
  var FINISHED = ["succeeded", "failed", "cancelled", "died"];
  var TICK_MS = page.tick_ms || 3000;
  var SLOW_EVERY = 5;          /* idle or absent jobs: every 5th tick */
  var lastFinished = {};
  var lastDone = {};
  var busy = {};
  var tick = 0;

  kinds.forEach(function (kind) {
    var f = (page.finished || {})[kind];
    lastFinished[kind] = f === null || f === undefined ? "" : String(f);
    busy[kind] = true;         /* unknown: ask at once */
  });

  function num(st, key) {
    var v = parseInt(st[key], 10);
    return isNaN(v) ? 0 : v;
  }

  function hhmm(iso) {
    var s = iso ? String(iso) : "";
    return s.length >= 16 ? s.substr(11, 5) : "";
  }

  /* A job logs into the web folder: link and name its log by its file name
     there (the status holds the absolute path), so the link works from
     file:// and from a web server alike. */
  function logName(kind, st) {
    var path = st && st.log ? String(st.log) : "";
    return path ? path.split("/").pop() : (logs[kind] || "");
  }

  function isFinished(st) {
    return !!st && FINISHED.indexOf(st.state) >= 0;
  }

  function bannerText(kind, st) {
    var label = labels[kind] || kind;
    if (!st) { return label + ": not started"; }
    var state = st.state || "unknown";
    var total = num(st, "total"), done = num(st, "done");
    var skipped = num(st, "skipped"), failed = num(st, "failed");
    var logname = logName(kind, st) || "the log";
    var unit = (kind === "montecarlo" || kind === "optimize") ? "trials"
      : (kind === "lookback_search" ? "iterations" : (kind === "charts" ? "charts" : "items"));
    var counted = unit === "trials" || unit === "iterations";
    var text;
    if (state === "queued") { return label + ": queued"; }
    if (state === "running") {
      text = label + ": " + done + " of " + total + (counted ? " " + unit : " drawn");
      var details = [];
      if (skipped) { details.push(skipped + " fresh"); }
      if (failed) { details.push(failed + " failed"); }
      return text + (details.length ? " (" + details.join(", ") + ")" : "");
    }
    if (state === "succeeded") {
      text = (label + ": finished " + hhmm(st.finished_at)).replace(/\s+$/, "");
      if (counted) { return text + " — " + done + " " + unit; }
      var created = ("created" in st) ? num(st, "created") : done - skipped - failed;
      return text + " — " + created + " drawn" + (skipped ? ", " + skipped + " fresh" : "");
    }
    if (state === "failed") {
      if (failed) { return label + ": failed: " + failed + " " + unit + " — see " + logname; }
      return label + ": failed — see " + logname;
    }
    if (state === "cancelled") {
      return (label + ": cancelled " + hhmm(st.finished_at || st.updated_at)).replace(/\s+$/, "");
    }
    if (state === "died") { return label + ": stopped unexpectedly — see " + logname; }
    return label + ": " + state;
  }

  /* A running job rewrites its status every heartbeat_seconds; a much older
     update means it probably stopped (the page cannot see processes). */
  function staleNote(kind, st) {
    if (!st || (st.state !== "running" && st.state !== "queued") || !st.heartbeat_seconds) {
      return "";
    }
    var updated = Date.parse(st.updated_at || "");
    var limit = Math.max(60, 6 * Number(st.heartbeat_seconds)) * 1000;
    if (isNaN(updated) || Date.now() - updated <= limit) { return ""; }
    return " — no update since " + hhmm(st.updated_at) + ", stopped? see " +
      (logName(kind, st) || "the log");
  }

  function setBanner(kind, st) {
    var el = document.querySelector('[data-job-banner="' + kind + '"]');
    if (!el) { return; }
    var text = el.querySelector(".job-text");
    if (text) { text.textContent = bannerText(kind, st) + staleNote(kind, st); }
    el.className = "job job-" + (st ? (st.state || "unknown") : "absent");
    el.setAttribute("data-state", st ? (st.state || "unknown") : "absent");
    var link = el.querySelector(".job-log");
    if (link) {
      if (st && st.log) {
        link.href = encodeURIComponent(logName(kind, st));
        link.hidden = false;
      } else {
        link.hidden = true;
      }
    }
  }

  function pendingBox(src, job, alt, cls) {
    var box = document.createElement("div");
    box.className = "pending" + (cls ? " " + cls : "");
    box.setAttribute("data-src", src);
    box.setAttribute("data-job", job || "");
    box.setAttribute("data-alt", alt || "");
    box.setAttribute("data-class", cls || "");
    box.setAttribute("role", "img");
    box.setAttribute("aria-label", (alt || src) + " (pending)");
    var span = document.createElement("span");
    span.textContent = (alt ? alt + " — " : "") + "pending";
    box.appendChild(span);
    return box;
  }

  function probe(box) {
    if (box.getAttribute("data-probing") === "1") { return; }
    box.setAttribute("data-probing", "1");
    var src = box.getAttribute("data-src");
    var url = src + "?v=" + Date.now();
    var im = new Image();
    im.onload = function () {
      var img = document.createElement("img");
      var cls = box.getAttribute("data-class");
      img.alt = box.getAttribute("data-alt") || "";
      if (cls) { img.className = cls; }
      img.setAttribute("data-src", src);
      img.setAttribute("data-job", box.getAttribute("data-job") || "");
      img.src = url;
      if (box.parentNode) { box.parentNode.replaceChild(img, box); }
    };
    im.onerror = function () { box.removeAttribute("data-probing"); };
    im.src = url;
  }

  function boxesOf(kind) {
    return document.querySelectorAll('.pending[data-job="' + kind + '"]');
  }

  function probeVisible(kind) {
    var boxes = boxesOf(kind);
    var h = window.innerHeight || 800;
    for (var i = 0; i < boxes.length; i++) {
      var r = boxes[i].getBoundingClientRect();
      if (r.bottom > -h && r.top < 2 * h) { probe(boxes[i]); }
    }
  }

  function refresh(kind) {
    var token = Date.now();
    var imgs = document.querySelectorAll('img[data-job="' + kind + '"]');
    for (var i = 0; i < imgs.length; i++) {
      imgs[i].src = imgs[i].getAttribute("data-src") + "?v=" + token;
    }
    var boxes = boxesOf(kind);
    for (var j = 0; j < boxes.length; j++) { probe(boxes[j]); }
  }

  function update(kind) {
    var st = (window.PYTAAA_JOBS || {})[kind] || null;
    setBanner(kind, st);
    busy[kind] = !!st && !isFinished(st);
    if (!st) { return; }
    if (isFinished(st)) {
      var key = String(st.finished_at || st.updated_at || "");
      if (lastFinished[kind] !== key) {
        lastFinished[kind] = key;
        refresh(kind);
      }
    } else if (st.state === "running" && progressive.indexOf(kind) >= 0 &&
               st.done !== lastDone[kind]) {
      lastDone[kind] = st.done;
      probeVisible(kind);
    }
  }

  function load(kind) {
    var id = "pytaaa-job-script-" + kind;
    var old = document.getElementById(id);
    if (old && old.parentNode) { old.parentNode.removeChild(old); }
    var s = document.createElement("script");
    s.id = id;
    s.src = "pytaaa_job_" + kind + ".js?t=" + Date.now();
    s.onload = function () { update(kind); };
    s.onerror = function () {
      if (window.PYTAAA_JOBS) { delete window.PYTAAA_JOBS[kind]; }
      update(kind);
    };
    document.head.appendChild(s);
  }

  function poll() {
    kinds.forEach(function (kind) {
      if (busy[kind] || tick % SLOW_EVERY === 0) { load(kind); }
    });
    tick += 1;
  }

  /* An image whose file went away (or failed to load) becomes a pending box. */
  function toPending(img) {
    if (!img.parentNode) { return; }
    var box = pendingBox(img.getAttribute("data-src"), img.getAttribute("data-job"),
                         img.alt, img.className);
    img.parentNode.replaceChild(box, img);
  }

  document.addEventListener("error", function (ev) {
    var el = ev.target;
    if (el && el.tagName === "IMG" && el.hasAttribute("data-src")) { toPending(el); }
  }, true);

  function start() {
    var imgs = document.querySelectorAll("img[data-src]");
    for (var i = 0; i < imgs.length; i++) {
      if (imgs[i].complete && imgs[i].naturalWidth === 0 && imgs[i].getAttribute("loading") !== "lazy") {
        toPending(imgs[i]);
      }
    }
    poll();
    window.setInterval(poll, TICK_MS);
  }

  window.PYTAAA_bannerText = bannerText;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
