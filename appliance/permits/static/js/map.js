// Special work on the four-colour risk map (templates/permits/_map.html, included by kiosk/_plan.html on the
// wall board and the tablet home): per area the permits on site as small chips by type (suspended ones red
// with 停, briefed ones grey, expired ones red with 过期), and an area in a SIMOPS clash hatched and outlined,
// with the clash's reason in its tooltip and, on a tap, a panel naming the permits involved with links to
// them. On the wall board the permits board (_board.html, board.js) already draws a marker per permit under
// the area's name, so the chips are left out there; the hatching, the tooltip and the panel are the same.
// Data: GET /api/v1/permits/map (the permits module's own clash rule, onmap.clashes), fetched at load, on
// permit.* live events (board.js re-dispatches them as "live-event"; a burst is one fetch) and every 30 s.
(function () {
  "use strict";
  var panel = document.getElementById("pm-map-detail");
  var plan = document.querySelector(".floor-plan");
  if (!panel || !plan) return;
  var T = JSON.parse(panel.dataset.texts);
  var row = document.getElementById("pm-map-simops");
  var NS = "http://www.w3.org/2000/svg";
  var data = { areas: {}, clashes: [] }, pending = null, openArea = null;

  function svg(tag, attrs) {
    var el = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    return el;
  }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return values[k] !== undefined ? values[k] : m; });
  }
  function areaName(code) {
    var l = plan.querySelector('[data-area="' + code + '"] .area-label');
    return (l && l.textContent.trim()) || code;
  }
  function typeName(t) { return T.types[t] || t; }
  function permitOf(id) {
    var found = null;
    Object.keys(data.areas).forEach(function (c) {
      data.areas[c].permits.forEach(function (p) { if (p.id === id) found = p; });
    });
    return found;
  }
  // "动火作业与吊装作业在同一区域同时作业，须经安全管理部门审批"
  function reason(c) {
    var text = c.where === "same"
      ? fill(T.same, { a: typeName(c.types[0]), b: typeName(c.types[1]) })
      : fill(T.near, { a: typeName(c.types[0]), b: typeName(c.types[1]),
                       area_a: areaName(c.areas[0]), area_b: areaName(c.areas[1]) });
    return text + T.sep + T.verdicts[c.verdict];
  }
  function chipText(p) {   // "动火", a suspended one "动火·停"
    return (T.short[p.type] || p.type) + (T.marks[p.state] ? "·" + T.marks[p.state] : "");
  }
  function permitLine(p) {
    return typeName(p.type) + " " + p.no + " · " + (T.states[p.state] || p.state) +
      (p.suspended_reason ? "（" + p.suspended_reason + "）" : "");
  }

  function defs() {   // the hatching of an area in a SIMOPS clash
    if (plan.querySelector("#pm-hatch")) return;
    var d = svg("defs"), pat = svg("pattern", { id: "pm-hatch", patternUnits: "userSpaceOnUse", width: 36, height: 36,
                                                patternTransform: "rotate(45)" });
    pat.appendChild(svg("rect", { "class": "pm-hatch-line", width: 12, height: 36 }));
    d.appendChild(pat);
    plan.insertBefore(d, plan.firstChild);
  }

  function layoutChips(group, width) {   // rows centred under the area's name, wrapped to the area's width
    var chips = Array.prototype.slice.call(group.querySelectorAll(".pm-chip")), rows = [[]], w = 0, GAP = 10;
    chips.forEach(function (c) {
      var t = c.querySelector("text"), cw = Math.ceil(t.getComputedTextLength ? t.getComputedTextLength() : 60) + 24;
      c.querySelector("rect").setAttribute("width", cw);
      c.dataset.w = cw;
      if (rows[rows.length - 1].length && w + GAP + cw > width) { rows.push([]); w = 0; }
      rows[rows.length - 1].push(c);
      w += (w ? GAP : 0) + cw;
    });
    var h = parseFloat(chips.length ? chips[0].querySelector("rect").getAttribute("height") : 0);
    rows.forEach(function (r, i) {
      var total = r.reduce(function (s, c) { return s + parseFloat(c.dataset.w); }, 0) + GAP * (r.length - 1);
      var x = -total / 2;
      r.forEach(function (c) {
        c.setAttribute("transform", "translate(" + x + "," + i * (h + 8) + ")");
        x += parseFloat(c.dataset.w) + GAP;
      });
    });
  }

  function render() {
    defs();
    var chipsToo = !document.getElementById("pm-board");   // the wall board's markers show them already
    plan.querySelectorAll(".pm-map-chips, .pm-map-hatch, title.pm-map-title").forEach(function (el) { el.remove(); });
    plan.querySelectorAll("g.area.pm-map-has").forEach(function (g) {
      g.classList.remove("pm-map-has");
      g.removeAttribute("tabindex"); g.removeAttribute("role"); g.removeAttribute("aria-label");
    });
    Object.keys(data.areas).forEach(function (code) {
      var a = data.areas[code], g = plan.querySelector('g.area[data-area="' + code + '"]');
      if (!g) return;
      var poly = g.querySelector("polygon"), label = g.querySelector(".area-label");
      var lines = [areaName(code) + T.colon + a.permits.map(permitLine).join("；")];
      a.clashes.forEach(function (i) { lines.push("⚠ " + T.simops + T.colon + reason(data.clashes[i])); });
      var title = svg("title", { "class": "pm-map-title" });
      title.textContent = lines.join("\n");
      g.insertBefore(title, g.firstChild);
      g.classList.add("pm-map-has");
      g.setAttribute("tabindex", "0"); g.setAttribute("role", "button");
      g.setAttribute("aria-label", lines.join("。"));
      if (a.simops && poly) {
        var h = svg("polygon", { "class": "pm-map-hatch simops-" + a.simops, points: poly.getAttribute("points"),
                                 "data-pm-area": code });
        poly.parentNode.insertBefore(h, poly.nextSibling);
      }
      if (chipsToo && label) {
        var box = poly.getBBox();
        var chips = svg("g", { "class": "pm-map-chips", "data-pm-area": code, transform: "translate(" +
                               label.getAttribute("x") + "," + (parseFloat(label.getAttribute("y")) + 40) + ")" });
        a.permits.forEach(function (p) {
          var c = svg("g", { "class": "pm-chip st-" + p.state, "data-permit": p.id, "data-type": p.type });
          c.appendChild(svg("rect", { y: 0, height: 54, rx: 12 }));
          var t = svg("text", { x: 12, y: 28, "dominant-baseline": "middle" });
          t.textContent = chipText(p);
          c.appendChild(t);
          chips.appendChild(c);
        });
        g.appendChild(chips);
        layoutChips(chips, Math.max(120, box.width - 40));
      }
    });
    renderRow();
    if (openArea) { if (data.areas[openArea]) show(openArea); else close(); }
  }

  function renderRow() {   // the clashes as buttons under the map: readable and tappable on a phone
    if (!row) return;
    row.textContent = "";
    var codes = Object.keys(data.areas).filter(function (c) { return data.areas[c].simops; });
    row.hidden = !codes.length;
    codes.forEach(function (code) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "pm-map-area simops-" + data.areas[code].simops; b.dataset.area = code;
      b.textContent = "⚠ " + areaName(code) + T.colon + data.areas[code].permits.map(chipText).join(" · ");
      row.appendChild(b);
    });
  }

  function link(p) {
    var a = document.createElement("a");
    a.href = T.link.replace(/0$/, String(p.id));
    a.textContent = permitLine(p);
    a.className = "st-" + p.state;
    return a;
  }

  function show(code) {
    var a = data.areas[code];
    if (!a) return;
    openArea = code;
    panel.querySelector(".pm-map-detail-title").textContent = fill(T.title, { area: areaName(code) });
    var ul = panel.querySelector(".pm-map-clashes"), pl = panel.querySelector(".pm-map-permits");
    ul.textContent = ""; pl.textContent = "";
    a.clashes.forEach(function (i) {
      var c = data.clashes[i], li = document.createElement("li");
      li.className = "simops-" + c.verdict;
      var b = document.createElement("b");
      b.textContent = "⚠ " + T.simops + T.colon + reason(c);
      li.appendChild(b);
      c.permits.forEach(function (id) {
        var p = permitOf(id);
        if (!p) return;
        var span = document.createElement("span");
        span.appendChild(link(p));
        li.appendChild(span);
      });
      ul.appendChild(li);
    });
    ul.hidden = !a.clashes.length;
    var named = {};   // the permits the clashes link already
    a.clashes.forEach(function (i) { data.clashes[i].permits.forEach(function (id) { named[id] = true; }); });
    var others = a.permits.filter(function (p) { return !named[p.id]; });
    others.forEach(function (p) {
      var li = document.createElement("li");
      li.appendChild(link(p));
      pl.appendChild(li);
    });
    pl.hidden = !others.length;
    panel.querySelector(".pm-map-others").hidden = !others.length || !a.clashes.length;
    panel.dataset.area = code;
    panel.hidden = false;
  }
  function close() { openArea = null; panel.hidden = true; delete panel.dataset.area; }

  plan.addEventListener("click", function (e) {
    var g = e.target.closest && e.target.closest("g.area[data-area]");
    if (g && data.areas[g.dataset.area]) { e.stopPropagation(); show(g.dataset.area); }
  });
  plan.addEventListener("keydown", function (e) {
    var g = e.target;
    if ((e.key === "Enter" || e.key === " ") && g.classList && g.classList.contains("pm-map-has")) {
      e.preventDefault(); show(g.dataset.area);
    }
  });
  if (row) row.addEventListener("click", function (e) {
    var b = e.target.closest("button[data-area]");
    if (b) { e.stopPropagation(); show(b.dataset.area); }
  });
  panel.querySelector(".pm-map-close").addEventListener("click", close);
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && !panel.hidden) close(); });
  document.addEventListener("click", function (e) {
    if (!panel.hidden && !panel.contains(e.target)) close();
  });

  function refresh() {
    pending = null;
    fetch("/api/v1/permits/map", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (!j) return;
        data = j;
        render();
        panel.dataset.loaded = String(Date.now());
      }).catch(function () { /* the live-state badge shows a lost connection */ });
  }
  document.addEventListener("live-event", function (e) {
    if (e.detail.type.indexOf("permit.") === 0 && !pending) pending = setTimeout(refresh, 250);
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", refresh); else refresh();
  setInterval(refresh, 30000);
})();
