// The alarms page keeps itself current: on every alarm or point event from the live stream (and every
// 30 s for the values) it fetches its cards again and merges them in. A card someone is typing in keeps
// its forms (only its heading and values change); a new alarm appears, an acknowledged one moves to the
// shift's list below, all without a reload.
(function () {
  "use strict";
  var root = document.getElementById("alarm-live");
  if (!root) return;
  var pending = null, again = false;

  function busyIn(el) {
    if (!el) return false;
    if (el.contains(document.activeElement) && document.activeElement !== document.body) return true;
    return Array.prototype.some.call(el.querySelectorAll("input, select, textarea"), function (i) {
      return i.value !== "";
    }) || !!el.querySelector("form[data-busy='1']");
  }

  function merge(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    var fresh = tpl.content;
    // the load line and the shift's list hold no forms: take them as they are
    ["alarm-load", "alarm-history"].forEach(function (id) {
      var old = document.getElementById(id), neu = fresh.getElementById ? fresh.getElementById(id)
        : fresh.querySelector("#" + id);
      if (old && neu) old.replaceWith(neu);
      else if (neu && id === "alarm-load") root.insertBefore(neu, root.firstChild);
    });
    var list = document.getElementById("alarm-list");
    var incoming = fresh.querySelector("#alarm-list");
    if (!list || !incoming) return;
    var keep = {};
    Array.prototype.forEach.call(list.querySelectorAll(".alarm-card"), function (c) { keep[c.dataset.alarm] = c; });
    var order = [];
    Array.prototype.forEach.call(incoming.children, function (card) {
      var old = card.dataset.alarm && keep[card.dataset.alarm];
      if (!old) { order.push(card); return; }
      delete keep[card.dataset.alarm];
      old.className = card.className;
      old.querySelector(".alarm-head").replaceWith(card.querySelector(".alarm-head"));
      var oa = old.querySelector(".alarm-actions"), na = card.querySelector(".alarm-actions");
      if (oa.dataset.actions !== na.dataset.actions && !busyIn(oa)) oa.replaceWith(na);
      order.push(old);
    });
    Object.keys(keep).forEach(function (id) { keep[id].remove(); });
    var empty = list.querySelector(".empty");
    if (empty) empty.remove();
    // in place where possible: moving the card someone types in would take their focus away
    order.forEach(function (el, i) { if (list.children[i] !== el) list.insertBefore(el, list.children[i] || null); });
    if (window.SafetyForms) SafetyForms.bind(list);
  }

  function refresh() {
    if (pending) { again = true; return; }
    pending = fetch("/tablet/alarms/cards", { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(merge).catch(function () { /* the live badge shows a lost connection */ }).then(function () {
      pending = null;
      if (again) { again = false; refresh(); }
    });
  }

  if (root.dataset.live === "1") {
    Live.connect(parseInt(root.dataset.head, 10) || 0, function (ev) {
      if (ev.type.indexOf("alarm.") === 0 || ev.type.indexOf("point.") === 0) refresh();
    });
  }
  setInterval(refresh, 30000);
  window.AlarmsPage = { refresh: refresh };
})();
