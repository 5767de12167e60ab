// Checkpoint screen: one huge status. An event whose payload names this reader (payload.reader) turns
// the screen green (payload.status "ok") or red (anything else) for a few seconds, then back to idle.
(function () {
  "use strict";
  var cp = document.getElementById("cp");
  var reader = cp.dataset.reader, statusEl = document.getElementById("cp-status");
  var detailEl = document.getElementById("cp-detail"), timer = null;
  Live.clock(document.getElementById("clock"), cp.dataset.tz);
  function idle() {
    cp.className = "cp idle";
    statusEl.textContent = Live.text("cp.idle");
    detailEl.textContent = Live.text("cp.idle_hint");
  }
  Live.connect(parseInt(cp.dataset.head, 10) || 0, function (ev) {
    var p = ev.payload || {};
    if (p.reader !== reader) return;
    var ok = p.status === "ok";
    cp.className = "cp " + (ok ? "ok" : "refused");
    statusEl.textContent = Live.text(ok ? "cp.ok" : "cp.refused");
    detailEl.textContent = p.message || Live.describe(ev);
    clearTimeout(timer);
    timer = setTimeout(idle, 8000);
  });
})();
