/*
 * cmpgw status page (cmd/page/status.html): fetches GET /api/v1/status
 * and shows it. Authentication: the browser's TLS client certificate, or
 * an API key pasted into the form (or handed in the URL fragment
 * "#key=...", which never reaches the server) kept in sessionStorage
 * only, sent as Authorization: Bearer. Everything from the API is shown
 * with textContent: no data ever becomes markup or script.
 */
"use strict";

(function () {
  var KEY = "cmpgw.apikey";
  var REFRESH_MS = 60000; /* the figures are per hour: a minute is fresh enough */
  var timer = null;

  function $(id) { return document.getElementById(id); }

  function key() {
    try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }

  function setKey(k) {
    try {
      if (k) sessionStorage.setItem(KEY, k); else sessionStorage.removeItem(KEY);
    } catch (e) { /* storage disabled: the certificate still works */ }
  }

  function state(text, kind) {
    $("state").textContent = text;
    document.body.setAttribute("data-state", kind);
  }

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function rows(id, list, fill) {
    var tbody = $(id).tBodies[0];
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    list.forEach(function (item) {
      var tr = document.createElement("tr");
      fill(tr, item);
      tbody.appendChild(tr);
    });
  }

  function bar(td, n, max, cls) {
    var span = document.createElement("span");
    span.className = cls ? "bar " + cls : "bar";
    span.style.width = (max ? Math.round(120 * n / max) : 0) + "px";
    td.appendChild(span);
  }

  function render(s) {
    var hours = s.hours || [], last = hours[hours.length - 1] || {};
    var max = 1;
    $("enrollments-24h").textContent = String(s.totals.enrollments);
    $("refusals-24h").textContent = String(s.totals.refusals);
    $("enrollments-hour").textContent = String(last.enrollments || 0);
    $("refusals-hour").textContent = String(last.refusals || 0);
    rows("reasons", s.totals.reasons, function (tr, r) {
      cell(tr, r.reason);
      cell(tr, r.count, "num");
    });
    hours.forEach(function (h) { max = Math.max(max, h.enrollments, h.refusals); });
    rows("hours", hours.slice().reverse(), function (tr, h) {
      var td;
      cell(tr, h.hour.slice(0, 13).replace("T", " ") + ":00");
      cell(tr, h.enrollments, "num");
      cell(tr, h.refusals, "num");
      td = cell(tr, "");
      bar(td, h.enrollments, max);
      bar(td, h.refusals, max, "refused");
      cell(tr, h.reasons.map(function (r) { return r.reason + " (" + r.count + ")"; })
        .join("; "), "detail");
    });
    rows("vendors", s.vendors, function (tr, v) {
      tr.setAttribute("data-vendor", v.name);
      cell(tr, v.name);
      cell(tr, v.strictness);
      cell(tr, v.serials.allowed, "num");
      cell(tr, v.serials.enrolled, "num");
      cell(tr, v.serials.blocked, "num");
    });
    rows("expiry", s.expiry, function (tr, x) {
      if (x.days_left < 0) tr.className = "expired";
      else if (x.days_left < 30) tr.className = "warn";
      cell(tr, x.what);
      cell(tr, x.subject, "detail");
      cell(tr, x.not_after.replace("T", " ").replace("Z", ""));
      cell(tr, x.days_left, "num");
    });
    rows("events", s.events, function (tr, e) {
      cell(tr, e.ts.replace("T", " ").replace("Z", ""));
      cell(tr, e.event);
      cell(tr, e.principal);
      cell(tr, e.vendor);
      cell(tr, e.device_serial);
      cell(tr, e.alias);
      cell(tr, e.detail, "detail");
    });
    $("generated").textContent = "Generated " + s.generated_at + " by the gateway.";
    state("Loaded.", "loaded");
  }

  function load() {
    var k = key(), headers = { "Accept": "application/json" };
    if (k) headers.Authorization = "Bearer " + k;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    state("Loading…", "loading");
    fetch("/api/v1/status", { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        return r.json().then(function (body) { return { status: r.status, body: body }; },
                             function () { return { status: r.status, body: null }; });
      })
      .then(function (r) {
        if (r.status === 200 && r.body) {
          render(r.body);
          timer = setTimeout(load, REFRESH_MS);
        } else {
          state("Error " + r.status + ": " + (r.body && r.body.detail ? r.body.detail :
                "no answer") + (r.status === 401 ? " (paste an operator or auditor API key)" :
                ""), "error");
        }
      })
      .catch(function (e) { state("Error: " + e.message, "error"); });
  }

  function start() {
    var m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
    if (m) {
      setKey(decodeURIComponent(m[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
    $("keyform").addEventListener("submit", function (ev) {
      ev.preventDefault();
      setKey($("key").value.trim());
      $("key").value = "";
      load();
    });
    $("forget").addEventListener("click", function () { setKey(""); load(); });
    $("reload").addEventListener("click", load);
    load();
  }

  if (document.readyState === "loading")
    document.addEventListener("DOMContentLoaded", start);
  else
    start();
})();
