// Major hazard installations on /tablet/risks/major-hazards: add and edit (the whole substance list is sent
// each time), retire. The server grades (GB 18218-2018); the page reloads to show the new level.
(function () {
  "use strict";
  var form = document.getElementById("mh-form");
  if (!form) return;
  var D = JSON.parse(document.getElementById("mh-data").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var statusEl = document.getElementById("form-status");
  var rows = document.getElementById("mh-rows"), tpl = document.getElementById("mh-row");
  var save = document.getElementById("mh-save"), cancel = document.getElementById("mh-cancel");
  var title = document.getElementById("mh-form-title");
  var editing = null, busy = false;

  function fmt(s, vals) { return s.replace(/\{(\w+)\}/g, function (m, k) { return k in vals ? vals[k] : m; }); }
  function show(ok, msg) { statusEl.className = "form-status " + (ok ? "ok" : "error"); statusEl.textContent = msg; }

  function addRow(s) {
    var node = tpl.content.firstElementChild.cloneNode(true);
    node.querySelectorAll("[data-k]").forEach(function (el) {
      if (s && s[el.dataset.k] !== undefined && s[el.dataset.k] !== null) el.value = s[el.dataset.k];
    });
    node.querySelector(".mh-remove").addEventListener("click", function () { node.remove(); });
    rows.appendChild(node);
    return node;
  }

  function reset() {
    editing = null;
    form.reset();
    rows.innerHTML = "";
    addRow();
    title.textContent = D.add;
    cancel.hidden = true;
  }

  function edit(id) {
    var d = D.installations.filter(function (x) { return x.id === id; })[0];
    if (!d) return;
    editing = id;
    ["code", "name", "kind", "people_500m"].forEach(function (k) { form.elements[k].value = d[k]; });
    form.elements.area_id.value = d.area_id === null ? "" : String(d.area_id);
    rows.innerHTML = "";
    d.substances.forEach(addRow);
    if (!d.substances.length) addRow();
    title.textContent = fmt(D.editing, { code: d.code });
    cancel.hidden = false;
    form.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function num(v) { return v === "" ? null : Number(v); }

  function payload() {
    var subs = [];
    rows.querySelectorAll(".mh-row").forEach(function (r) {
      var s = {};
      r.querySelectorAll("[data-k]").forEach(function (el) { s[el.dataset.k] = el.value.trim(); });
      if (!s.name && !s.q_t && !s.critical_t && !s.cas) return;   // an empty row left over
      s.q_t = num(s.q_t); s.critical_t = num(s.critical_t);
      subs.push(s);
    });
    var f = form.elements;
    return { code: f.code.value.trim(), name: f.name.value.trim(), kind: f.kind.value,
             area_id: f.area_id.value ? Number(f.area_id.value) : null,
             people_500m: f.people_500m.value === "" ? null : Number(f.people_500m.value), substances: subs };
  }

  // Each write carries an Idempotency-Key, one per method and address until it succeeds (issue 15): a resend
  // after a lost answer (or a tap that slipped past the busy flag) is recognised by the server, not filed twice.
  var keys = {};
  function newKey() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);   // crypto.randomUUID needs a secure context; the plant LAN is plain http
    return "f-" + Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }

  function send(method, url, body) {
    var slot = method + " " + url, key = keys[slot] || (keys[slot] = newKey());
    return fetch(url, { method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Idempotency-Key": key },
      body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) {
        if (r.ok) delete keys[slot];   // spent: the next save is a new one
        return { ok: r.ok, body: j };
      }); });
  }

  function done(res) {
    if (res.ok) { show(true, D.saved); window.SafetyForms.reload(); return; }
    busy = false; save.disabled = false;
    show(false, fmt(D.error, { message: (res.body.error && res.body.error.message) || "?" }));
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (busy) return;                 // no double submit
    busy = true; save.disabled = true;
    var url = "/api/v1/risk/major-hazards" + (editing ? "/" + editing : "");
    send(editing ? "PUT" : "POST", url, payload()).then(done, function () {
      done({ ok: false, body: { error: { message: "network" } } });
    });
  });
  document.getElementById("mh-add-row").addEventListener("click", function () { addRow().querySelector("input").focus(); });
  cancel.addEventListener("click", reset);
  document.querySelectorAll(".mh-card").forEach(function (card) {
    var id = Number(card.dataset.id);
    var e = card.querySelector(".mh-edit"), r = card.querySelector(".mh-retire");
    if (e) e.addEventListener("click", function () { edit(id); });
    if (r) r.addEventListener("click", function () {
      if (busy) return;
      // the shared confirm dialog (forms.js), as the admin page asks: glove-sized buttons, Esc cancels, and
      // no native window.confirm that a kiosk browser may suppress
      busy = true; r.disabled = true;   // at once: a second tap while the dialog is up does nothing
      window.SafetyForms.confirm(fmt(D.confirm_retire, { code: card.dataset.code })).then(function (yes) {
        if (!yes) { busy = false; r.disabled = false; return; }
        send("DELETE", "/api/v1/risk/major-hazards/" + id).then(done, function () {
          r.disabled = false; done({ ok: false, body: { error: { message: "network" } } });
        });
      });
    });
  });
  reset();
})();
