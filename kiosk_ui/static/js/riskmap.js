// Live overlays on the four-colour risk map (kiosk/_plan.html): a marker per area and kind that appears
// with a count while something is live there and disappears when it is over.
//
//   RiskMap.overlay(kind, perArea)   kind: "gas" | "ppe";  perArea: { AREA_CODE: { count: n, level: 1|2 } }
//
// Areas missing from perArea are cleared, so each call gives the whole current picture of that kind.
// - "gas" is fed by points.js from the active alarms (a gas alarm whose condition has not cleared, acked
//   or not), on every alarm.* / point.* event and every 2 s.
// - "ppe" is the hook for the vision module: on its violation events it calls
//   RiskMap.overlay("ppe", { AREA_CODE: { count: <violations in the last N minutes> } }); the marker and
//   its style are already on the plan, so nothing here needs to change.
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
