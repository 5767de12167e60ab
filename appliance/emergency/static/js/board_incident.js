// The wall board's incident view: when an emergency.* event arrives (on the board's live stream, as
// "live-event"), fetch the partial again and swap it in; the muster count moves at once from the event itself.
// The affected and downwind areas are marked on the floor plan and the evacuation route drawn over it.
(function () {
  "use strict";
  var box = document.getElementById("em-board");
  if (!box) return;
  var NS = "http://www.w3.org/2000/svg";

  function parse(s) { try { return JSON.parse(s || "[]"); } catch (e) { return []; } }

  function drawPlan() {
    var plan = document.getElementById("floor-plan");
    var inc = box.querySelector(".em-incident");
    document.body.classList.toggle("em-active", !!inc);
    document.body.classList.toggle("em-drill", !!(inc && inc.classList.contains("is-drill")));
    if (!plan) return;
    plan.querySelectorAll("g.area").forEach(function (g) { g.classList.remove("em-affected", "em-downwind"); });
    var old = document.getElementById("em-route-line");
    if (old) old.remove();
    if (!inc) return;
    parse(inc.dataset.downwind).forEach(function (c) {
      var g = plan.querySelector('g.area[data-area="' + c + '"]'); if (g) g.classList.add("em-downwind"); });
    var src = plan.querySelector('g.area[data-area="' + inc.dataset.area + '"]');
    if (src) src.classList.add("em-affected");
    var pts = parse(inc.dataset.route);
    if (pts.length > 1) {
      var line = document.createElementNS(NS, "polyline");
      line.setAttribute("id", "em-route-line");
      line.setAttribute("points", pts.map(function (p) { return p[0] + "," + p[1]; }).join(" "));
      line.setAttribute("class", "em-route-line");
      plan.appendChild(line);
    }
  }

  // One fetch at a time; an event that arrives during it asks for one more afterwards (its change may have
  // been committed after the first answer was read), and a failed fetch is tried again in a few seconds.
  var pending = null, again = false, retry = null;
  function refresh() {
    if (pending) { again = true; return; }
    clearTimeout(retry);
    pending = fetch(box.dataset.url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .catch(function () { return null; })   // the live-state badge shows a lost connection
      .then(function (html) {
        pending = null;
        if (html === null) { retry = setTimeout(refresh, 3000); return; }
        box.innerHTML = html; drawPlan(); loaded = Date.now();
        if (again) { again = false; refresh(); }
      });
  }

  document.addEventListener("live-event", function (e) {
    var ev = e.detail;
    if (!ev || ev.type.indexOf("emergency.") !== 0) return;
    if (ev.type === "emergency.mustered") {
      var c = document.getElementById("em-board-muster");
      if (c && typeof ev.payload.present === "number") {
        c.textContent = c.dataset.text.replace("{present}", ev.payload.present)
          .replace("{expected}", ev.payload.expected);
        c.classList.toggle("all", !!ev.payload.all_accounted);
      }
    }
    if (/^emergency\.(incident_|step_done|muster|drill_started)/.test(ev.type)) refresh();
  });
  // the resource-warning counts sit in the board's side column (under the status panel), swapped in on the
  // upkeep events (warned by the daily scan, acknowledged, resolved with a new date)
  var up = document.getElementById("em-upkeep");
  var side = document.querySelector(".side-panel");
  if (up && side) {
    var status = side.querySelector(".status-panel");
    if (status && status.nextSibling) side.insertBefore(up, status.nextSibling); else side.appendChild(up);
  }
  function refreshUpkeep() {
    if (!up) return;
    fetch(up.dataset.url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) up.innerHTML = html; }).catch(function () { /* next event */ });
  }
  document.addEventListener("live-event", function (e) {
    var ev = e.detail;
    if (ev && /^emergency\.resource_/.test(ev.type)) refreshUpkeep();
  });

  // the weather point's last reading ages on the board between redraws
  var loaded = Date.now();
  setInterval(function () {
    box.querySelectorAll(".em-age[data-age-s]").forEach(function (el) {
      var s = parseInt(el.dataset.ageS, 10) + Math.round((Date.now() - loaded) / 1000);
      el.textContent = el.dataset.text.replace("{m}", Math.floor(s / 60));
    });
  }, 10000);
  drawPlan();
})();
