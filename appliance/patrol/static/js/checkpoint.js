// Checkpoint screen: one huge status. An event whose payload names this reader (payload.reader) turns the
// screen green (status "ok"), amber ("warn": recorded outside any round) or red (refused) for a while.
// A tap at a checkpoint with a checklist shows the items with 正常 / 异常 for the worker to answer here;
// 异常 opens a hazard report (server side). The answer goes to /api/v1/patrol/taps/<id>/answers, with the
// shared SafetyForms' idempotency key (one per tap): a double tap or a resend after a lost answer is answered
// from the server's kept answer, not refused as "already answered"; the submit stays disabled while it sends.
(function () {
  "use strict";
  var cp = document.getElementById("cp");
  var reader = cp.dataset.reader, statusEl = document.getElementById("cp-status");
  var detailEl = document.getElementById("cp-detail"), form = document.getElementById("cp-checklist");
  var itemsEl = document.getElementById("cp-items"), resultEl = document.getElementById("cp-result");
  var noteEl = document.getElementById("cp-note");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var en = document.documentElement.lang === "en", timer = null, tapId = null;
  var canAnswer = cp.dataset.canAnswer === "1";
  var IDLE_MS = 8000, ANSWER_MS = 120000, F = window.SafetyForms;
  Live.clock(document.getElementById("clock"), cp.dataset.tz);

  function idle() {
    cp.className = "cp idle";
    statusEl.textContent = Live.text("cp.idle");
    detailEl.textContent = Live.text("cp.idle_hint");
    form.hidden = true; tapId = null;
  }
  function later(ms) { clearTimeout(timer); timer = setTimeout(idle, ms); }

  // 正常 / 异常: two large toggles; the chosen one stays lit (and says so to a screen reader)
  function choice(item, value) {
    var lab = document.createElement("label");
    lab.className = "choice " + value;
    var input = document.createElement("input");
    input.type = "radio"; input.name = "item-" + item.id; input.value = value; input.required = true;
    lab.appendChild(input);
    var mark = document.createElement("b");
    mark.className = "mark"; mark.textContent = "✓";
    lab.appendChild(mark);
    lab.appendChild(document.createTextNode(Live.text("cp." + value)));
    return lab;
  }

  // 异常 opens the item's hazard draft in place: the description (the item's text, to edit) and a photo
  function draft(li, item, on) {
    var d = li.querySelector(".cp-draft");
    if (!on) { if (d) d.hidden = true; return; }
    if (!d) {
      d = document.createElement("div");
      d.className = "cp-draft";
      var lab = document.createElement("label");
      lab.textContent = Live.text("cp.draft");
      var ta = document.createElement("textarea");
      ta.name = "draft-" + item.id; ta.maxLength = 2000; ta.rows = 2;
      ta.value = (en && item.text_en) ? item.text_en : item.text;
      lab.appendChild(ta);
      var ph = document.createElement("label");
      ph.className = "cp-photo";
      ph.textContent = Live.text("cp.photo");
      var file = document.createElement("input");
      file.type = "file"; file.accept = "image/*"; file.setAttribute("capture", "environment");
      file.name = "photo-" + item.id;
      ph.appendChild(file);
      d.appendChild(lab); d.appendChild(ph);
      li.appendChild(d);
    }
    d.hidden = false;
  }
  function showChecklist(p) {
    itemsEl.textContent = "";
    p.checklist.forEach(function (item) {
      var li = document.createElement("li");
      li.dataset.item = item.id;
      var s = document.createElement("span");
      s.textContent = (en && item.text_en) ? item.text_en : item.text;
      li.appendChild(s);
      var row = document.createElement("div");
      row.className = "choices";
      row.appendChild(choice(item, "normal"));
      row.appendChild(choice(item, "abnormal"));
      li.appendChild(row);
      row.addEventListener("change", function (e) { draft(li, item, e.target.value === "abnormal"); });
      itemsEl.appendChild(li);
    });
    noteEl.value = ""; resultEl.textContent = ""; resultEl.className = "cp-result";
    delete form.dataset.idemKey;       // a new tap is a new answer: a new key
    F.busy(form, false);
    form.hidden = false; tapId = p.tap_id;
  }

  function uploadPhoto(id, file) {
    var fd = new FormData();
    fd.append("photo", file);
    return fetch("/api/v1/patrol/taps/" + id + "/photos", { method: "POST", credentials: "same-origin", body: fd,
                                                           headers: { "X-CSRF-Token": csrf } })
      .then(function (r) { return r.json().then(function (j) {
        if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText);
        return j.sha256;
      }); });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!tapId || form.dataset.busy) return;
    F.busy(form, true);                // at once: a second tap meanwhile does nothing
    var answers = {}, drafts = {}, uploads = [], id = tapId, idem = F.key(form);
    itemsEl.querySelectorAll("li").forEach(function (li) {
      var on = li.querySelector("input:checked");
      if (!on) return;
      answers[li.dataset.item] = on.value;
      if (on.value !== "abnormal") return;
      var d = { description: li.querySelector(".cp-draft textarea").value };
      drafts[li.dataset.item] = d;
      var f = li.querySelector(".cp-draft input[type=file]");
      if (f && f.files && f.files.length) {
        uploads.push(uploadPhoto(id, f.files[0]).then(function (sha) { d.photo = sha; }));
      }
    });
    var note = noteEl.value;
    Promise.all(uploads).then(function () {
      return fetch("/api/v1/patrol/taps/" + id + "/answers", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Idempotency-Key": idem },
        body: JSON.stringify({ answers: answers, note: note, drafts: drafts })
      });
    }).then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (res) {
        if (res[0]) {
          F.done(form);                // answered: the next tap's answer gets a new key
          var hz = res[1].hazard_ids.length;
          resultEl.className = "cp-result " + (hz ? "warn" : "ok");
          resultEl.textContent = hz ? Live.text("cp.answered_hazard", { n: hz }) : Live.text("cp.answered_ok");
          // a note typed with every answer 正常 is kept with the check record: say so
          if (note.trim()) resultEl.textContent += " · " + Live.text("cp.note_kept");
          tapId = null;
          later(IDLE_MS);
          // the submit stays disabled until the next tap shows a new checklist
        } else {
          F.busy(form, false);         // refused: the key stays for the resend
          var err = res[1].error || {};
          resultEl.className = "cp-result refused";
          resultEl.textContent = (err.messages && err.messages[en ? "en" : "zh-CN"]) || err.message || "";
        }
      }).catch(function () {
        F.busy(form, false);
        resultEl.className = "cp-result refused";
        resultEl.textContent = Live.text("cp.answer_failed");
      });
  });

  Live.connect(parseInt(cp.dataset.head, 10) || 0, function (ev) {
    var p = ev.payload || {};
    if (p.reader !== reader || ev.type === "patrol.checked") return;
    var cls = p.status === "ok" ? "ok" : (p.status === "warn" ? "warn" : "refused");
    cp.className = "cp " + cls;
    statusEl.textContent = Live.text("cp." + cls);
    var who = p.person ? p.person + " · " : "";
    detailEl.textContent = ev.type === "patrol.tap" ? who + (en ? p.message_en : p.message)
                                                     : (p.message || Live.describe(ev));
    if (ev.type === "patrol.tap" && canAnswer && p.checklist && p.checklist.length) {
      showChecklist(p);
      later(ANSWER_MS);
    } else {
      form.hidden = true;
      later(IDLE_MS);
    }
  });
})();
