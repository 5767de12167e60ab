// Special work on the wall board (templates/permits/_board.html): the permits on site as markers on the
// floor plan, one stack per area under its name (type · state · countdown to expiry and to the confined-
// space re-analysis; a suspended or expired one red with its reason), a SIMOPS marker on an area where
// conflicting work runs together, and the same permits as a strip under the plan. Fetched from
// /api/v1/permits/board at load, on every permit.* live event (board.js re-dispatches them as "live-event"),
// and every 30 s; the countdowns move every second.
(function () {
  "use strict";
  var box = document.getElementById("pm-board");
  if (!box) return;
  var T = JSON.parse(box.dataset.texts);
  var list = document.getElementById("pm-board-list");
  var NS = "http://www.w3.org/2000/svg";
  var data = { permits: [], simops: {} }, pending = null;

  function pad(n) { return ("0" + n).slice(-2); }
  function clock(ms) {
    var s = Math.round(ms / 1000), neg = s < 0;
    s = Math.abs(s);
    return (neg ? "-" : "") + Math.floor(s / 3600) + ":" + pad(Math.floor(s % 3600 / 60)) + ":" + pad(s % 60);
  }
  // "expires in 5:02:10 · next analysis in 1:10:00"; overdue when a due time has passed
  function countdown(p, now) {
    if (p.state === "expired") return { text: T.states.expired, parts: [T.states.expired], overdue: true };
    var parts = [T.expires + " " + clock(p.valid_to - now)], overdue = p.valid_to < now;
    if (p.reanalysis_due) {
      parts.push(T.reanalysis + " " + clock(p.reanalysis_due - now));
      overdue = overdue || p.reanalysis_due < now;
    }
    return { text: parts.join(" · ") + (overdue ? " (" + T.overdue + ")" : ""), parts: parts, overdue: overdue };
  }
  function title(p) { return (T.types[p.type] || p.type) + " " + p.no + " · " + (T.states[p.state] || p.state); }
  function svg(tag, attrs) {
    var el = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    return el;
  }
  function fit(g) {   // the marker's box follows its text
    var w = 0;
    g.querySelectorAll("text").forEach(function (t) { w = Math.max(w, t.getComputedTextLength ? t.getComputedTextLength() : 0); });
    g.querySelector("rect").setAttribute("width", Math.ceil(w) + 24);
    g.querySelector("rect").setAttribute("x", -Math.ceil(w / 2) - 12);
  }

  function lineHeight(plan, cls) {   // the marker text's size comes from the CSS (larger on the 1080p wall)
    var g = svg("g", { "class": cls }), t = svg("text");
    g.appendChild(t); plan.appendChild(g);
    var fs = parseFloat(getComputedStyle(t).fontSize) || 26;
    g.remove();
    return Math.round(fs * 1.15);
  }

  function renderPlan() {
    document.querySelectorAll(".floor-plan .pm-marks").forEach(function (el) { el.remove(); });
    var plan = document.querySelector(".floor-plan");
    if (!plan) return;
    var LH = lineHeight(plan, "pm-mark"), SH = lineHeight(plan, "pm-simops");
    var per = {};
    data.permits.forEach(function (p) { (per[p.area] = per[p.area] || []).push(p); });
    document.querySelectorAll(".floor-plan g.area[data-area]").forEach(function (g) {   // the areas, not marks in them
      var code = g.dataset.area, mine = per[code] || [], conflict = data.simops[code];
      if (!mine.length && !conflict) return;
      var label = g.querySelector(".area-label");
      var x = parseFloat(label.getAttribute("x")), y = parseFloat(label.getAttribute("y"));
      var stack = svg("g", { "class": "pm-marks", "data-area": code, transform: "translate(" + x + "," + (y + 14 + LH) + ")" });
      // the room the area has below its label: markers that would run past its bottom edge become one
      // "+n more" line (the strip under the plan lists every permit)
      var box = g.querySelector("polygon").getBBox();
      var room = box.y + box.height - (y + 14 + LH) - 8;
      var dy = 0;
      if (conflict) {
        var s = svg("g", { "class": "pm-simops simops-" + conflict, transform: "translate(0," + dy + ")" });
        s.appendChild(svg("rect", { y: -Math.round(SH * 0.6), height: Math.round(SH * 1.2), rx: 6 }));
        var st = svg("text", { "text-anchor": "middle", "dominant-baseline": "middle", y: 1 });
        st.textContent = "⚠ " + T.simops;
        s.appendChild(st);
        stack.appendChild(s);
        dy += Math.round(SH * 1.2) + 8;
      }
      mine.some(function (p, k) {
        // one short line each (the permit number is on the strip): type · state, expiry, the re-analysis
        // of a confined space, the reason of a suspension; a marker stays about as wide as its area
        var reason = (p.state === "suspended" && p.suspended_reason) ? p.suspended_reason : "";
        var m = svg("g", { "class": "pm-mark st-" + p.state, "data-permit": p.id, transform: "translate(0," + dy + ")" });
        var rows = [["", (T.types[p.type] || p.type) + " · " + (T.states[p.state] || p.state) +
                     (p.violations ? " · ⛑" + p.violations : "")], ["pm-cd", ""]];
        if (p.reanalysis_due && p.state !== "expired") rows.push(["pm-cd2", ""]);
        if (reason) rows.push(["pm-reason", reason.length > 16 ? reason.slice(0, 15) + "…" : reason]);
        var lines = rows.length;
        var left = mine.length - k;
        if (left > 1 && dy + LH * lines + 14 + LH + 6 > room) {   // this one and a "+n" line would not both fit
          var more = svg("g", { "class": "pm-mark pm-more", transform: "translate(0," + dy + ")" });
          more.appendChild(svg("rect", { y: -Math.round(LH * 0.8), height: LH + 6, rx: 8 }));
          var mt = svg("text", { "text-anchor": "middle", y: 4 });
          mt.textContent = T.more.replace("{n}", left);
          more.appendChild(mt);
          stack.appendChild(more);
          return true;
        }
        m.appendChild(svg("rect", { y: -Math.round(LH * 0.8), height: LH * lines + 6, rx: 8 }));
        rows.forEach(function (row, i) {
          var t = svg("text", { "text-anchor": "middle", y: 4 + i * LH });
          if (row[0]) t.setAttribute("class", row[0]);
          t.textContent = row[1];
          m.appendChild(t);
        });
        stack.appendChild(m);
        dy += LH * lines + 14;
        return false;
      });
      g.appendChild(stack);
    });
  }

  // the area as the plan names it (its label, in the page's language), never its code
  function areaName(code) {
    var label = code ? document.querySelector("#area-" + code + " .area-label") : null;
    return label && label.textContent.trim() ? label.textContent.trim() : (code || "—");
  }

  function renderList() {
    list.textContent = "";
    if (!data.permits.length) {
      var e = document.createElement("li");
      e.className = "empty"; e.textContent = T.none;
      list.appendChild(e);
      return;
    }
    data.permits.forEach(function (p) {
      var li = document.createElement("li");
      li.className = "st-" + p.state;
      li.dataset.permit = p.id;
      var b = document.createElement("b");
      b.textContent = areaName(p.area) + " · " + title(p);
      var cd = document.createElement("span");
      cd.className = "pm-b-cd";
      li.appendChild(b); li.appendChild(cd);
      if (p.state === "suspended" && p.suspended_reason) {
        var r = document.createElement("span");
        r.className = "pm-b-reason"; r.textContent = p.suspended_reason;
        li.appendChild(r);
      }
      list.appendChild(li);
    });
  }

  function tick() {
    var now = Date.now(), byId = {};
    data.permits.forEach(function (p) { byId[p.id] = p; });
    document.querySelectorAll(".floor-plan .pm-mark").forEach(function (m) {
      var p = byId[m.dataset.permit];
      if (!p) return;
      var c = countdown(p, now), cd2 = m.querySelector(".pm-cd2");
      m.querySelector(".pm-cd").textContent = c.parts[0] + (c.overdue && !cd2 ? " (" + T.overdue + ")" : "");
      if (cd2) cd2.textContent = (c.parts[1] || "") + (c.overdue ? " (" + T.overdue + ")" : "");
      m.classList.toggle("overdue", c.overdue);
      fit(m);
    });
    document.querySelectorAll(".floor-plan .pm-simops, .floor-plan .pm-more").forEach(fit);
    list.querySelectorAll("li[data-permit]").forEach(function (li) {
      var p = byId[li.dataset.permit];
      if (p) li.querySelector(".pm-b-cd").textContent = countdown(p, now).text;
    });
  }

  function refresh() {
    pending = null;
    fetch("/api/v1/permits/board", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (!j) return;
        data = j;
        renderPlan(); renderList(); tick();
        box.dataset.loaded = String(Date.now());
      }).catch(function () { /* the live-state badge shows a lost connection */ });
  }

  document.addEventListener("live-event", function (e) {
    if (e.detail.type.indexOf("permit.") === 0 && !pending) pending = setTimeout(refresh, 200);
  });
  refresh();
  setInterval(refresh, 30000);
  setInterval(tick, 1000);
})();
