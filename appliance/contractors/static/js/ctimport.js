// The roster import on the archive page: "检查" sends the file as a dry run and lists what would change and
// every bad row (row, column, why); "导入" (after a confirmation) applies the whole file, or nothing.
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form) return;
  var F = window.SafetyForms;
  var T = JSON.parse(document.getElementById("import-texts").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var out = document.getElementById("import-report");
  var en = document.documentElement.lang === "en";

  function fill(tpl, vals) { return tpl.replace(/\{(\w+)\}/g, function (_, k) { return vals[k]; }); }
  function report(j) {
    out.textContent = "";
    var s = j.summary || {};
    var p = document.createElement("p");
    p.className = j.ok ? "ok" : "error";
    p.textContent = fill(j.ok ? (j.dry_run ? T.would : T.done) : T.bad, {
      rows: j.rows, errors: (j.errors || []).length,
      firms: s.firms ? s.firms.created : 0, workers: s.workers ? s.workers.created : 0,
      certs: s.certificates ? s.certificates.created : 0, trainings: s.trainings ? s.trainings.recorded : 0 });
    out.appendChild(p);
    if (!(j.errors || []).length) return;
    var ul = document.createElement("ul");
    ul.className = "import-errors";
    j.errors.forEach(function (e) {
      var li = document.createElement("li");
      li.textContent = fill(T.row, { row: e.row, column: e.column || "—" }) + " " + (en ? e.en : e.zh);
      ul.appendChild(li);
    });
    out.appendChild(ul);
  }
  function post(dry) {
    var file = form.querySelector("input[type=file]").files[0];
    if (!file) { F.show(false, T.choose); return Promise.resolve(); }
    var fd = new FormData();
    fd.append("file", file);
    return fetch("/api/v1/contractors/import" + (dry ? "?dry_run=1" : ""), {
      method: "POST", credentials: "same-origin", body: fd,
      headers: { "X-CSRF-Token": csrf, "Idempotency-Key": F.key(form) } })
      .then(function (r) { return r.json().then(function (j) {
        if (r.ok) { report(j); if (!dry) setTimeout(function () { location.reload(); }, 1500); return; }
        if (j.error && j.error.details && j.error.details.length && j.error.details[0].row) {
          report({ ok: false, rows: 0, errors: j.error.details, summary: {} });
          return;
        }
        throw new Error((j.error && j.error.message) || r.statusText);
      }); });
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var dry = !(e.submitter && e.submitter.value === "import");
    form.dataset.confirm = dry ? "" : T.confirm;
    F.guarded(form, function () {
      return post(dry).then(function () { F.busy(form, false); });
    });
  });
})();
