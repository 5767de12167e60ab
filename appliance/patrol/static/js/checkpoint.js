// Checkpoint screen: one huge status. An event whose payload names this reader (payload.reader) turns the
// screen green (status "ok"), amber ("warn": recorded outside any round) or red (refused) for a while.
// A tap at a checkpoint with a checklist shows the items with 正常 / 异常 for the worker to answer here;
// 异常 opens a hazard report (server side). The answer goes to /api/v1/patrol/taps/<id>/answers.
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
  var IDLE_MS = 8000, ANSWER_MS = 120000;
  Live.clock(document.getElementById("clock"), cp.dataset.tz);

  function idle() {
    cp.className = "cp idle";
    statusEl.textContent = Live.text("cp.idle");
    detailEl.textContent = Live.text("cp.idle_hint");
    form.hidden = true; tapId = null;
  }
  function later(ms) { clearTimeout(timer); timer = setTimeout(idle, ms); }

  function choice(item, value) {
    var lab = document.createElement("label");
    lab.className = "choice " + value;
    var input = document.createElement("input");
    input.type = "radio"; input.name = "item-" + item.id; input.value = value; input.required = true;
    lab.appendChild(input);
    lab.appendChild(document.createTextNode(Live.text("cp." + value)));
    return lab;
  }
  function showChecklist(p) {
    itemsEl.textContent = "";
    p.checklist.forEach(function (item) {
      var li = document.createElement("li");
      li.dataset.item = item.id;
      var s = document.createElement("span");
      s.textContent = (en && item.text_en) ? item.text_en : item.text;
      li.appendChild(s);
      li.appendChild(choice(item, "normal"));
      li.appendChild(choice(item, "abnormal"));
      itemsEl.appendChild(li);
    });
    noteEl.value = ""; resultEl.textContent = ""; resultEl.className = "cp-result";
    form.hidden = false; tapId = p.tap_id;
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!tapId) return;
    var answers = {};
    itemsEl.querySelectorAll("li").forEach(function (li) {
      var on = li.querySelector("input:checked");
      if (on) answers[li.dataset.item] = on.value;
    });
    fetch("/api/v1/patrol/taps/" + tapId + "/answers", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ answers: answers, note: noteEl.value })
    }).then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (res) {
        if (res[0]) {
          var hz = res[1].hazard_ids.length;
          resultEl.className = "cp-result " + (hz ? "warn" : "ok");
          resultEl.textContent = hz ? Live.text("cp.answered_hazard", { n: hz }) : Live.text("cp.answered_ok");
          tapId = null;
          later(IDLE_MS);
        } else {
          var err = res[1].error || {};
          resultEl.className = "cp-result refused";
          resultEl.textContent = (err.messages && err.messages[en ? "en" : "zh-CN"]) || err.message || "";
        }
      }).catch(function () {
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
