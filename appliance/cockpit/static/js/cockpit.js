// The cockpit refreshes its figures when the records behind them change: a live event of a domain it reads
// (hazards, control tasks, patrol, alarms, accidents, violations, permits, the gate, certificates) re-reads
// /api/v1/cockpit for the same window, at most once every 2 s. The tiles keep their place; only the value,
// the trend and its colour change.
(function () {
  "use strict";
  var root = document.getElementById("kpis");
  if (!root || !window.Live) return;
  var days = root.getAttribute("data-days");
  var PREFIXES = ["hazard.", "control_task.", "task.", "patrol.", "alarm.", "vision.", "permit.", "contractor.",
                  "certificate.", "cockpit.", "emergency.accident"];   // cockpit.hours_recorded: the rates' hours
  var pending = null;

  function fmt(unit, v) {
    if (v === null || v === undefined) return "—";
    if (unit === "rate") return (v * 100).toFixed(1) + "%";
    if (unit === "count") return String(Math.round(v));
    return v.toFixed(2);
  }

  function fmtDelta(unit, v) {
    var sign = v > 0 ? "+" : "";
    if (unit === "rate") return sign + (v * 100).toFixed(1) + " pp";
    if (unit === "count") return sign + Math.round(v);
    return sign + v.toFixed(2);
  }

  function render(data) {
    data.kpis.forEach(function (k) {
      var el = root.querySelector('[data-kpi="' + k.key + '"]');
      if (!el) return;
      el.querySelector(".value").textContent = fmt(k.unit, k.value);
      var trend = el.querySelector(".trend");
      if (k.point_in_time) trend.textContent = Live.text("now");
      else if (k.delta === null) trend.textContent = Live.text("no_trend");
      else trend.textContent = (k.delta > 0 ? "↑ " : k.delta < 0 ? "↓ " : "→ ") + fmtDelta(k.unit, k.delta) + " · " +
        Live.text("previous") + " " + fmt(k.unit, k.previous);
      el.className = "kpi " + (k.direction || "none");
      var link = el.querySelector("a.drill");
      if (link) link.setAttribute("href", k.drill);     // the window moved on: its records with it
    });
    if (data.counts) {
      var hours = Math.round(data.counts.person_hours).toLocaleString("en-US");
      var basis = Live.text("basis_" + data.counts.hours_basis);
      var acc = document.getElementById("accident-basis");
      if (acc) acc.textContent = Live.text("accident_basis", { injured: data.counts.injured, hours: hours, basis: basis });
      var vio = document.getElementById("violation-basis");
      if (vio) vio.textContent = Live.text("violation_basis", { n: data.counts.violations, hours: hours, basis: basis });
    }
    root.setAttribute("data-head", data.head_seq);
  }

  function refresh() {
    pending = null;
    fetch("/api/v1/cockpit?days=" + encodeURIComponent(days), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) render(data); })
      .catch(function () { /* the live state shows the connection; the next event retries */ });
  }

  Live.connect(parseInt(root.getAttribute("data-head"), 10) || 0, function (ev) {
    if (!PREFIXES.some(function (p) { return ev.type.indexOf(p) === 0; })) return;
    if (!pending) pending = setTimeout(refresh, 2000);
  });
})();
