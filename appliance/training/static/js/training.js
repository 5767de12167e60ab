// Training pages: JSON forms (once per tap: a busy form ignores a second submit, and each submission
// carries an Idempotency-Key from forms.js's SafetyForms, kept until it succeeds, so a resend after a lost
// answer files once), exam start, the question import (dry run first), warning acknowledgement, and the exam
// paper with its countdown (the server's deadline decides; the page submits by itself when it reaches zero).
(function () {
  "use strict";
  var I18N = JSON.parse(document.getElementById("i18n").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var statusEl = document.getElementById("form-status");
  var F = window.SafetyForms;   // kiosk_ui forms.js, loaded before this file

  function show(ok, msg) {
    statusEl.className = "form-status " + (ok ? "ok" : "error");
    statusEl.textContent = msg;
  }

  function call(url, method, body, isForm, idem) {
    var headers = { "X-CSRF-Token": csrf };
    if (!isForm) headers["Content-Type"] = "application/json";
    if (idem) headers["Idempotency-Key"] = idem;
    return fetch(url, { method: method, credentials: "same-origin", headers: headers,
                        body: body === undefined ? undefined : (isForm ? body : JSON.stringify(body)) })
      .then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) { var e = new Error((j.error && j.error.message) || r.statusText); e.body = j; throw e; }
          return j;
        });
      });
  }

  // No double submit: ignore taps while the request is in flight. `fn(key)` sends with the element's
  // idempotency key; a success spends it (the next submission is a new one), a failure keeps it for the resend.
  function once(el, fn) {
    if (el.dataset.busy === "1") return;
    el.dataset.busy = "1";
    el.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    fn(F.key(el)).then(function () { F.done(el); },
                       function (e) { show(false, I18N.error.replace("{message}", e.message)); })
      .then(function () {
        el.dataset.busy = "";
        el.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      });
  }

  function put(obj, path, v) {  // "picks.0.topic" → obj.picks[0].topic
    var keys = path.split(".");
    for (var i = 0; i < keys.length - 1; i++) {
      var k = keys[i], next = /^\d+$/.test(keys[i + 1]) ? [] : {};
      if (obj[k] === undefined) obj[k] = next;
      obj = obj[k];
    }
    obj[keys[keys.length - 1]] = v;
  }

  document.querySelectorAll("form.tr-form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      once(form, function (idem) {
        var body = {};
        Array.prototype.forEach.call(form.elements, function (el) {
          if (!el.name || el.value === "" || el.disabled) return;
          var t = el.dataset.type, v = el.value;
          put(body, el.name, t === "int" ? parseInt(v, 10) : t === "float" ? parseFloat(v) : v);
        });
        return call(form.dataset.api.replace("{person_id}", body.person_id || ""), form.dataset.method || "POST", body,
                    false, idem)
          .then(function () { show(true, I18N.saved); F.reloadSoon(500); });
      });
    });
  });

  document.querySelectorAll("button.tr-start").forEach(function (b) {
    b.addEventListener("click", function () {
      once(b.parentNode, function (idem) {
        return call("/api/v1/training/exams/" + b.dataset.exam + "/attempts", "POST", {}, false, idem)
          .then(function (a) { location.href = "/tablet/training/attempts/" + a.id; });
      });
    });
  });

  document.querySelectorAll("button.tr-ack").forEach(function (b) {
    b.addEventListener("click", function () {
      once(b.parentNode, function (idem) {
        return call("/api/v1/certificates/warnings/" + b.dataset.id + "/ack", "POST", {}, false, idem)
          .then(function () { show(true, I18N.saved); F.reloadSoon(500); });
      });
    });
  });

  var imp = document.getElementById("import-form");
  if (imp) {
    imp.addEventListener("submit", function (e) {
      e.preventDefault();
      once(imp, function (idem) {
        var fd = new FormData();
        fd.append("file", imp.querySelector("input[type=file]").files[0]);
        var dry = imp.querySelector("input[name=dry_run]").checked;
        var out = document.getElementById("import-report");
        return call("/api/v1/training/questions/import?dry_run=" + (dry ? "1" : "0"), "POST", fd, true, idem)
          .then(function (r) {
            out.textContent = r.ok ? I18N.imported.replace("{created}", r.summary.created)
              .replace("{updated}", r.summary.updated).replace("{unchanged}", r.summary.unchanged) + (dry ? " " + I18N.dry : "")
              : r.errors.map(function (x) { return I18N.row.replace("{row}", x.row) + " " + (document.documentElement.lang === "en" ? x.en : x.zh); }).join("\n");
            show(r.ok, r.ok ? I18N.saved : I18N.has_errors);
          }, function (err) {
            var d = err.body && err.body.error && err.body.error.details;
            if (d) out.textContent = d.map(function (x) { return I18N.row.replace("{row}", x.row) + " " + (x.zh || ""); }).join("\n");
            throw err;
          });
      });
    });
  }

  // the exam paper
  var paper = document.getElementById("paper");
  if (paper) {
    var deadline = parseInt(paper.dataset.deadline, 10), skew = Date.now() - parseInt(paper.dataset.now, 10);
    var clock = document.getElementById("clock"), sent = false;
    var submit = function () {
      if (sent) return;
      once(paper, function (idem) {
        var answers = {};
        paper.querySelectorAll(".question").forEach(function (q) {
          var chosen = Array.prototype.filter.call(q.querySelectorAll("input"), function (i) { return i.checked; })
            .map(function (i) { return parseInt(i.value, 10); });
          if (chosen.length) answers[q.dataset.id] = chosen;
        });
        return call("/api/v1/training/attempts/" + paper.dataset.attempt + "/submit", "POST", { answers: answers },
                    false, idem)
          .then(function () { sent = true; location.reload(); });
      });
    };
    paper.addEventListener("submit", function (e) { e.preventDefault(); submit(); });
    var tick = function () {
      var left = Math.max(0, Math.round((deadline - (Date.now() - skew)) / 1000));
      clock.textContent = Math.floor(left / 60) + ":" + ("0" + (left % 60)).slice(-2);
      if (left === 0) { submit(); return; }
      setTimeout(tick, 1000);
    };
    tick();
  }
  // a course unit: the page tells the server it was opened, then reports what the video has played (the
  // element's own `played` ranges; the server merges them and checks them against the video's length and
  // the time since opening) every few seconds, at pause and at the end; a document is read by opening it,
  // then confirmed
  var unit = document.getElementById("unit");
  if (unit && unit.dataset.person) {
    var uid = unit.dataset.unit, stateEl = document.getElementById("unit-state");
    var markDone = function (p) {
      if (p && p.done && stateEl.dataset.done !== "1") {
        stateEl.dataset.done = "1";
        stateEl.className = "passed";
        stateEl.textContent = I18N.unit_done;
        show(true, I18N.unit_done);
      }
    };
    // a document is opened by fetching its file (the server records that), a video by this page
    var opened = unit.dataset.kind === "video" ? call("/api/v1/training/units/" + uid + "/open", "POST", {}) : Promise.resolve();
    var player = document.getElementById("player");
    if (player) {
      var inFlight = false, lastSent = 0, again = false;
      var report = function () {
        if (inFlight) { again = true; return; }
        var r = player.played, played = [];
        for (var i = 0; i < r.length; i++) played.push([r.start(i), r.end(i)]);
        if (!played.length) return;
        inFlight = true;
        lastSent = Date.now();
        opened.then(function () { return call("/api/v1/training/units/" + uid + "/played", "POST", { played: played }); })
          .then(function (p) {
            document.getElementById("watched").textContent = Math.round(p.watched_s);
            markDone(p);
          }, function (e) { show(false, I18N.error.replace("{message}", e.message)); })
          .then(function () { inFlight = false; if (again) { again = false; report(); } });
      };
      player.addEventListener("timeupdate", function () { if (Date.now() - lastSent > 4000) report(); });
      player.addEventListener("pause", report);
      player.addEventListener("ended", report);
      player.addEventListener("seeked", function () { if (Date.now() - lastSent > 4000) report(); });
    }
    var doc = document.getElementById("open-doc"), confirmBtn = document.getElementById("confirm-doc");
    if (confirmBtn) {
      confirmBtn.addEventListener("click", function () {
        once(confirmBtn.parentNode, function (idem) {
          return opened.then(function () {
            return call("/api/v1/training/units/" + uid + "/confirm", "POST", {}, false, idem);
          })
            .then(function (p) { markDone(p); confirmBtn.disabled = true; });
        });
      });
    }
    if (doc) doc.addEventListener("click", function () { doc.dataset.opened = "1"; });
  }

  // a course unit's upload: multipart, the server's clear error when it is too large
  var unitForm = document.getElementById("unit-form");
  if (unitForm) {
    unitForm.addEventListener("submit", function (e) {
      e.preventDefault();
      once(unitForm, function (idem) {
        var fd = new FormData();
        ["title", "topic", "work_type"].forEach(function (k) { fd.append(k, unitForm.elements[k].value); });
        fd.append("file", unitForm.querySelector("input[type=file]").files[0]);
        return call("/api/v1/training/courses/" + unitForm.elements.course.value + "/units", "POST", fd, true, idem)
          .then(function () { show(true, I18N.saved); F.reloadSoon(500); });
      });
    });
  }

  // the assignment form offers the targets of the kind chosen; a person is found with the person picker
  // (the text field and the picker are never both sent: the one not shown is disabled)
  var kindSel = document.getElementById("target-kind"), targetsEl = document.getElementById("targets");
  if (kindSel && targetsEl) {
    var targets = JSON.parse(targetsEl.textContent), list = document.getElementById("target-list");
    var textBox = document.getElementById("target-text"), personBox = document.getElementById("target-person");
    var fill = function () {
      var person = kindSel.value === "person";
      textBox.hidden = person;
      personBox.hidden = !person;
      textBox.querySelectorAll("input").forEach(function (i) { i.disabled = person; });
      personBox.querySelectorAll("input").forEach(function (i) { i.disabled = !person; });
      list.innerHTML = "";
      (targets[kindSel.value] || []).forEach(function (v) {
        var o = document.createElement("option");
        if (Array.isArray(v)) { o.value = v[0]; o.label = v[1]; } else { o.value = v; }
        list.appendChild(o);
      });
    };
    kindSel.addEventListener("change", fill);
    fill();
  }
})();
