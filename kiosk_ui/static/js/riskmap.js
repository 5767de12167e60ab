// Live overlays on the four-colour risk map (kiosk/_plan.html): a marker per area and kind that appears
// with a count while something is live there and disappears when it is over.
//
//   RiskMap.overlay(kind, perArea)   kind: "gas" | "ppe";  perArea: { AREA_CODE: { count: n, level: 1|2 } }
//
// Areas missing from perArea are cleared, so each call gives the whole current picture of that kind.
// - "gas" is fed by points.js from the active alarms (a gas alarm whose condition has not cleared, acked
//   or not), on every alarm.* / point.* event and every 2 s.
// - "ppe" counts the hard-hat violations of the last hour per area (violations not yet rejected as false
//   alarms), from /api/v1/violations, on every vision.* event and once a minute (so old ones age out).
window.RiskMap = (function () {
  "use strict";
  function overlay(kind, perArea) {
    document.querySelectorAll(".floor-plan [data-area]").forEach(function (g) {
      var m = g.querySelector('.overlay[data-overlay="' + kind + '"]');
      if (!m) return;
      var o = perArea[g.dataset.area];
      var n = o ? o.count : 0;
      if (n > 0) m.removeAttribute("display"); else m.setAttribute("display", "none");
      m.setAttribute("class", "overlay overlay-" + kind + (o && o.level ? " level" + o.level : ""));
      m.dataset.count = n;
      m.querySelector("text").textContent = n > 0 ? String(n) : "";
    });
  }
  return { overlay: overlay };
})();

(function () {
  "use strict";
  var RECENT_MS = 3600 * 1000, pending = null;
  if (!document.querySelector('.floor-plan .overlay[data-overlay="ppe"]')) return;
  function refresh() {
    pending = null;
    fetch("/api/v1/violations?limit=500", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (!j) return;
        var since = Date.now() - RECENT_MS, per = {};
        j.violations.forEach(function (v) {
          if (!v.area || v.state === "rejected" || v.occurred_at < since) return;
          per[v.area] = per[v.area] || { count: 0 };
          per[v.area].count += 1;
        });
        RiskMap.overlay("ppe", per);
      }).catch(function () { /* the live-state badge shows a lost connection */ });
  }
  document.addEventListener("live-event", function (e) {
    if (e.detail.type.indexOf("vision.") === 0 && !pending) pending = setTimeout(refresh, 300);
  });
  refresh();
  setInterval(refresh, 60000);
})();
