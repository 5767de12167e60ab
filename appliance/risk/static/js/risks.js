// Register import on /tablet/risks: a dry run first, its report shown row by row, then the import of the
// same file on confirmation (the server applies all rows or none).
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form) return;
  var I18N = JSON.parse(document.getElementById("i18n").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var lang = document.documentElement.lang;
  var statusEl = document.getElementById("form-status");
  var report = document.getElementById("import-report"), verdict = document.getElementById("import-verdict");
  var errors = document.getElementById("import-errors"), summary = document.getElementById("import-summary");
  var confirmBtn = document.getElementById("import-confirm");
  var file = null, busy = false;
  // one Idempotency-Key per step (dry run, import), kept until that step succeeds (issue 15)
  var keys = {};
  function newKey() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);   // crypto.randomUUID needs a secure context; the plant LAN is plain http
    return "f-" + Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }

  function fmt(s, vals) { return s.replace(/\{(\w+)\}/g, function (m, k) { return k in vals ? vals[k] : m; }); }
  function show(ok, msg) { statusEl.className = "form-status " + (ok ? "ok" : "error"); statusEl.textContent = msg; }
  function cell(tr, text) { var td = document.createElement("td"); td.textContent = text; tr.appendChild(td); }

  // one request at a time: the buttons stay disabled while it is in flight
  function send(dry) {
    var step = dry ? "dry" : "import", key = keys[step] || (keys[step] = newKey());
    var fd = new FormData();
    fd.append("file", file, file.name);
    busy = true;
    form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    return fetch("/api/v1/risks/import" + (dry ? "?dry_run=1" : ""), {
      method: "POST", credentials: "same-origin", body: fd, headers: { "X-CSRF-Token": csrf, "Idempotency-Key": key }
    }).then(function (r) {
      return r.json().then(function (j) {
        if (r.ok) delete keys[step];
        return { status: r.status, body: j };
      });
    }).finally(function () {
      busy = false;
      form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
    });
  }

  function render(rep) {
    report.hidden = false;
    var body = errors.querySelector("tbody");
    body.innerHTML = "";
    rep.errors.forEach(function (e) {
      var tr = document.createElement("tr");
      tr.dataset.row = e.row;
      cell(tr, e.row === rep.header_row ? I18N.header + " (" + e.row + ")" : e.row);
      cell(tr, lang === "en" ? e.column_en : e.column_zh);
      cell(tr, lang === "en" ? e.en : e.zh);
      body.appendChild(tr);
    });
    errors.hidden = rep.errors.length === 0;
    var sb = summary.querySelector("tbody");
    sb.innerHTML = "";
    Object.keys(rep.summary || {}).forEach(function (k) {
      var c = rep.summary[k], tr = document.createElement("tr");
      tr.dataset.kind = k;
      cell(tr, I18N.kinds[k]); cell(tr, c.created); cell(tr, c.updated); cell(tr, c.unchanged);
      sb.appendChild(tr);
    });
    summary.hidden = !rep.summary;
    verdict.className = "verdict " + (rep.ok ? "ok" : "error");
    verdict.textContent = rep.ok ? fmt(I18N.ok, { rows: rep.rows }) : fmt(I18N.bad, { n: rep.errors.length });
    confirmBtn.hidden = !rep.ok;
  }

  function failed(j) {
    report.hidden = true;
    show(false, fmt(I18N.error, { message: (j.error && j.error.message) || "?" }));
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (busy) return;
    file = form.querySelector("input[type=file]").files[0];
    if (!file) return;
    statusEl.textContent = "";
    send(true).then(function (r) { if (r.status === 200) render(r.body); else failed(r.body); })
      .catch(function (err) { failed({ error: { message: err.message } }); });
  });

  // A changed file needs a new dry run before it can be imported.
  form.querySelector("input[type=file]").addEventListener("change", function () { confirmBtn.hidden = true; keys = {}; });

  confirmBtn.addEventListener("click", function () {
    if (busy) return;
    confirmBtn.hidden = true;
    send(false).then(function (r) {
      if (r.status === 201) {
        render(r.body);
        confirmBtn.hidden = true;
        show(true, fmt(I18N.done, { rows: r.body.rows }));
        if (window.SafetyForms) window.SafetyForms.reloadSoon(1500); else setTimeout(function () { location.reload(); }, 1500);
      } else if (r.body.error && r.body.error.details) {   // the register changed since the dry run
        render({ ok: false, errors: r.body.error.details, rows: 0, header_row: 0 });
      } else {
        failed(r.body);
      }
    }).catch(function (err) { failed({ error: { message: err.message } }); });
  });
})();
