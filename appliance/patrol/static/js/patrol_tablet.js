// Tablet patrol page: a round's detail, the review of suspicious rounds, and the checkpoint / route / plan
// forms (whose bodies have lists and nested objects, so they are built here rather than by forms.js). Each
// goes through the shared SafetyForms (forms.js): disabled while it sends, with an idempotency key kept until
// it succeeds, so a double tap or a resend after a lost answer records one review, check or checkpoint.
(function () {
  "use strict";
  var I18N = JSON.parse(document.getElementById("i18n").textContent);
  var DATA = JSON.parse(document.getElementById("patrol-data").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var statusEl = document.getElementById("form-status");
  var en = document.documentElement.lang === "en";

  function show(ok, msg) {
    statusEl.className = "form-status " + (ok ? "ok" : "error");
    statusEl.textContent = msg;
  }
  var F = window.SafetyForms;
  function json(r) {
    return r.json().then(function (j) {
      if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText);
      return j;
    });
  }
  // one submission of `form` (F.guarded: once at a time, the error shown and the buttons back on failure)
  function send(form, url, body) {
    F.guarded(form, function () {
      return fetch(url, { method: "POST", credentials: "same-origin",
                          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf,
                                     "Idempotency-Key": F.key(form) },
                          body: JSON.stringify(body) })
        .then(json)
        .then(function () { show(true, I18N.saved); F.reloadSoon(600); });
    });
  }
  function list(text) {
    return text.split(/[,，;；\n]/).map(function (s) { return s.trim(); }).filter(Boolean);
  }

  // a round in detail: each stop with when it was tapped and what the checklist said
  var detail = document.getElementById("round-detail"), stopsEl = document.getElementById("detail-stops");
  document.querySelectorAll(".detail-button").forEach(function (b) {
    b.addEventListener("click", function () {
      fetch("/api/v1/patrol/rounds/" + b.dataset.round, { credentials: "same-origin" })
        .then(function (r) { return r.json(); }).then(function (r) {
          document.getElementById("detail-title").textContent = "#" + r.id + " " + (en && r.route_en ? r.route_en : r.route);
          stopsEl.textContent = "";
          r.stops.forEach(function (s, i) {
            var tap = r.taps.filter(function (t) { return t.checkpoint_id === s.checkpoint_id && t.outcome === "ok"; })[0];
            var check = r.checks.filter(function (c) { return c.checkpoint_id === s.checkpoint_id; })[0];
            var tr = document.createElement("tr");
            [(en && s.checkpoint_en) ? s.checkpoint_en : s.checkpoint, i ? s.min_walk_s + " s" : "—",
             tap ? Live.timeOf(tap.at, DATA.tz) : Live.text("patrol.not_visited"),
             check ? Live.text("patrol.check" + check.status) +
               (check.note && check.status !== 2 ? " · " + Live.text("patrol.note") + "：" + check.note : "") : "—"].forEach(function (v) {
              var td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
            });
            if (!tap) tr.className = "missed";
            stopsEl.appendChild(tr);
          });
          detail.hidden = false;
          detail.scrollIntoView({ behavior: "smooth" });
        });
    });
  });

  document.querySelectorAll(".review-form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var verdict = e.submitter ? e.submitter.value : "genuine";
      send(form, "/api/v1/patrol/rounds/" + form.dataset.round + "/review", { verdict: verdict, note: form.note.value });
    });
  });

  document.querySelectorAll(".task-form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var result = parseInt(e.submitter ? e.submitter.value : "0", 10);
      send(form, "/api/v1/control-tasks/" + form.dataset.task + "/check", { result: result, note: form.note.value });
    });
  });

  var builders = {
    checkpoint: function (f) {
      // one item per line: "text" or "text | category"; ids are numbered
      var items = f.checklist.value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean)
        .map(function (line, i) {
          var parts = line.split("|").map(function (s) { return s.trim(); });
          var item = { id: "i" + (i + 1), text: parts[0] };
          if (parts[1]) item.category = parts[1];
          return item;
        });
      var body = { code: f.code.value, name: f.name.value, name_en: f.name_en.value,
                   area_id: parseInt(f.area_id.value, 10), checklist: items };
      if (f.reader.value) body.reader = f.reader.value;
      if (f.tag_uid.value) body.tag_uid = f.tag_uid.value;
      return ["/api/v1/patrol/checkpoints", body];
    },
    route: function (f) {
      var stops = list(f.stops.value).map(function (s) {
        var parts = s.split(/\s+/), id = DATA.checkpoints[parts[0]];
        if (!id) throw new Error(Live.text("patrol.unknown_checkpoint") + " " + parts[0]);
        return { checkpoint_id: id, min_walk_s: parseInt(parts[1] || "0", 10) };
      });
      return ["/api/v1/patrol/routes", { code: f.code.value, name: f.name.value, name_en: f.name_en.value, stops: stops }];
    },
    plan: function (f) {
      var schedule = { window_min: parseInt(f.window_min.value, 10) };
      if (f.every_min.value) schedule.every_min = parseInt(f.every_min.value, 10);
      else schedule.times = list(f.times.value);
      return ["/api/v1/patrol/plans", { name: f.name.value, route_id: parseInt(f.route_id.value, 10), shift: f.shift.value,
                                        schedule: schedule, grace_min: parseInt(f.grace_min.value || "15", 10),
                                        people: list(f.people.value) }];
    }
  };
  document.querySelectorAll("form.patrol-form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var req;
      try {
        req = builders[form.dataset.kind](form);
      } catch (err) {
        show(false, I18N.error.replace("{message}", err.message));
        return;
      }
      send(form, req[0], req[1]);
    });
  });
})();
