// The wall board's certificate panel (kiosk/_certificates.html): lapsed, expiring and unacknowledged counts.
// Drawn by the server at page load; refreshed from /api/v1/certificates/counts when a certificate.* or
// training.* event arrives on the board's live stream ("live-event"), and every 10 minutes (a certificate
// enters its warning window or lapses when the day changes, with no event).
(function () {
  "use strict";
  var panel = document.getElementById("cert-panel");
  if (!panel) return;
  var HOT = { expired: "st-fault", warned: "st-degraded", unacknowledged: "st-degraded" };

  function render(c) {
    Object.keys(HOT).forEach(function (key) {
      var li = panel.querySelector('li[data-count="' + key + '"]');
      if (!li || typeof c[key] !== "number") return;
      li.querySelector("b").textContent = String(c[key]);
      li.className = c[key] ? HOT[key] : "st-ok";
    });
    panel.dataset.refreshed = String(Date.now());
  }

  // At most one fetch in flight; events during it ask for one more afterwards (their change may have been
  // committed after the first answer was read). A burst of warnings makes one or two fetches, not one each
  // (50 wall boards, issue 14). A failed fetch is tried again in a few seconds.
  var busy = false, again = false, retry = null;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    clearTimeout(retry);
    fetch("/api/v1/certificates/counts", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; })   // the live-state badge shows a lost connection
      .then(function (c) {
        busy = false;
        if (c) render(c); else retry = setTimeout(refresh, 5000);
        if (again) { again = false; refresh(); }
      });
  }

  document.addEventListener("live-event", function (e) {
    var t = e.detail.type || "";
    if (t.indexOf("certificate.") === 0 || t.indexOf("training.") === 0) refresh();
  });
  setInterval(refresh, 600000);
})();
