// Wall board patrol panel: today's rounds per route (done / in progress / late / missed) and the latest
// taps. Counts come from /api/v1/patrol/summary, refreshed on every patrol event and once a minute (a
// round turns "missed" by the clock, not by an event).
(function () {
  "use strict";
  var body = document.getElementById("patrol-routes"), taps = document.getElementById("patrol-taps");
  if (!body) return;
  var board = document.querySelector(".board"), tz = board.dataset.tz;
  var en = document.documentElement.lang === "en", pending = null, MAX_TAPS = 8;
  var BUCKETS = ["done", "in_progress", "late", "missed"];

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
  function render(summary) {
    body.textContent = "";
    if (!summary.routes.length) {
      var tr = document.createElement("tr"); tr.className = "empty";
      var td = document.createElement("td"); td.colSpan = 5; td.textContent = Live.text("board.no_rounds");
      tr.appendChild(td); body.appendChild(tr);
      return;
    }
    summary.routes.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.dataset.route = r.route_id;
      cell(tr, (en && r.route_en) ? r.route_en : r.route);
      BUCKETS.forEach(function (b) { cell(tr, String(r[b]), "b-" + b + (r[b] && b !== "done" ? " hot" : "")); });
      body.appendChild(tr);
    });
  }
  function refresh() {
    pending = null;
    fetch("/api/v1/patrol/summary", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { if (s) render(s); })
      .catch(function () { /* the live-state badge shows a lost connection */ });
  }
  function addTap(ev) {
    var p = ev.payload || {};
    var empty = taps.querySelector(".empty");
    if (empty) empty.remove();
    var li = document.createElement("li");
    li.className = "tap-" + p.status + " fresh";
    var t = document.createElement("time");
    t.textContent = Live.timeOf(ev.occurred_at || ev.recorded_at, tz);
    var who = document.createElement("b");
    who.textContent = p.person || Live.text("patrol.unknown_person");
    var where = document.createElement("span");
    where.textContent = (en ? (p.checkpoint_en || p.checkpoint) : p.checkpoint) || (ev.names && ev.names.reader) || p.reader;
    var msg = document.createElement("em");
    msg.textContent = p.status === "ok" ? "" : (en ? p.message_en : p.message);   // the name and place say it
    li.appendChild(t); li.appendChild(who); li.appendChild(where); li.appendChild(msg);
    taps.insertBefore(li, taps.firstChild);
    while (taps.children.length > MAX_TAPS) taps.removeChild(taps.lastChild);
  }
  document.addEventListener("live-event", function (e) {
    var ev = e.detail;
    if (ev.type === "patrol.tap") addTap(ev);
    if (ev.type.indexOf("patrol.") === 0 || ev.type.indexOf("plan.") === 0 || ev.type.indexOf("route.") === 0) {
      if (!pending) pending = setTimeout(refresh, 300);   // a burst of events, one fetch
    }
  });
  refresh();
  setInterval(refresh, 60000);
})();
