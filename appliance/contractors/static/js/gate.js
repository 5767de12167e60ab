// Gate screen beside a gate reader: each gate decision at this reader (contractor.gate_* events whose
// payload.reader is this reader) turns the screen green (allowed) or red (refused) with the reason huge,
// then back to idle. Read from the checkpoint distance: one word of status, one line of reason.
(function () {
  "use strict";
  var gate = document.getElementById("gate");
  var reader = gate.dataset.reader, statusEl = document.getElementById("gate-status");
  var reasonEl = document.getElementById("gate-reason"), detailEl = document.getElementById("gate-detail");
  var T = JSON.parse(document.getElementById("gate-texts").textContent);
  var en = document.documentElement.lang === "en", timer = null;
  var HOLD_MS = { allowed: 8000, exit: 6000, refused: 20000 };   // a refusal stays up for the guard
  Live.clock(document.getElementById("clock"), gate.dataset.tz);

  function t(key) { return T[key] || key; }
  function idle() {
    gate.className = "cp idle gate";
    statusEl.textContent = t("gate.idle");
    reasonEl.textContent = t("gate.idle_hint");
    detailEl.textContent = "";
  }
  function detail(code) {          // "expired:welding" → 焊接与热切割作业
    var parts = code.split(":");
    return t("gate.cert." + parts[1]) + " · " + parts[0];
  }
  function show(p) {
    var cls = p.decision === "allowed" ? "ok" : p.decision === "exit" ? "warn" : "refused";
    gate.className = "cp gate " + cls;
    gate.dataset.decision = p.decision;
    statusEl.textContent = t("gate." + p.decision);
    reasonEl.textContent = en ? p.reason_en : p.reason_zh;
    var who = [p.person, p.firm].filter(Boolean).join(" · ");
    var more = (p.reasons || []).slice(1).filter(function (r) { return r.indexOf(":") < 0; })
      .map(function (r) { return t("gate.reason." + r); });
    (p.details || []).forEach(function (d) { more.push(detail(d)); });
    detailEl.textContent = who + (more.length ? " — " + more.join("；") : "");
    clearTimeout(timer); timer = setTimeout(idle, HOLD_MS[p.decision] || 8000);
  }
  Live.connect(parseInt(gate.dataset.head, 10) || 0, function (ev) {
    if (ev.type.indexOf("contractor.gate_") !== 0 || !ev.payload || ev.payload.reader !== reader) return;
    show(ev.payload);
  });
})();
