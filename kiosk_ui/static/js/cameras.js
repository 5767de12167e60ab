// Camera tiles: each tile reloads its camera's newest annotated JPEG a few times a second (plain <img>, no
// plug-in); a tile without a frame shows "no signal" and retries. New hard-hat violations arrive on the
// live stream (board.js re-dispatches them as "live-event") and go to the top of the violations list, one
// line per scene with its count (issue 15 item 6).
(function () {
  "use strict";
  var panel = document.querySelector(".camera-panel");
  if (!panel) return;
  var PERIOD_MS = 330, RETRY_MS = 2000, MAX = 4;
  var tz = (document.querySelector(".board") || {}).dataset ? document.querySelector(".board").dataset.tz : undefined;

  panel.querySelectorAll(".camera-tile").forEach(function (tile) {
    var img = tile.querySelector("img.cam-frame"), n = 0;
    function next(delay) { setTimeout(load, delay); }
    function load() {
      if (document.hidden) return next(RETRY_MS);
      n += 1;
      img.src = img.dataset.src + "?n=" + n;      // a new URL each time: never a cached frame
    }
    img.addEventListener("load", function () { tile.classList.remove("no-signal"); next(PERIOD_MS); });
    img.addEventListener("error", function () {
      tile.classList.add("no-signal");
      tile.querySelector(".cam-state").textContent = panel.dataset.noSignal;
      next(RETRY_MS);
    });
    img.addEventListener("load", function () { tile.querySelector(".cam-state").textContent = ""; });
    load();
  });

  // One line per scene (camera|zone, within the grouping window of the tablet's cards): a new violation of a
  // scene already listed raises its count and moves it to the top; a decision removes the scene's line.
  var list = document.getElementById("violations");
  var WINDOW_MS = list ? Number(list.dataset.windowMs || 600000) : 600000;
  function idsOf(li) { return (li.dataset.ids || li.dataset.violation || "").split(" ").filter(Boolean); }
  document.addEventListener("live-event", function (e) {
    var ev = e.detail;
    if (!list) return;
    if (ev.type === "vision.confirmed" || ev.type === "vision.rejected") {
      list.querySelectorAll("li[data-violation]").forEach(function (li) {
        if (idsOf(li).indexOf(String(ev.payload.id)) >= 0) li.remove();
      });
      return;
    }
    if (ev.type !== "vision.violation") return;
    var empty = list.querySelector(".empty");
    if (empty) empty.remove();
    var scene = ev.payload.camera + "|" + (ev.payload.zone || ""), li = null;
    list.querySelectorAll("li[data-scene]").forEach(function (x) {
      if (x.dataset.scene === scene && ev.occurred_at - Number(x.dataset.last || 0) <= WINDOW_MS) li = x;
    });
    var name = ((ev.names && ev.names.camera) || ev.payload.camera) + " · " + Number(ev.payload.score).toFixed(2);
    if (!li) {
      li = document.createElement("li");
      li.dataset.scene = scene;
      li.dataset.ids = "";
      li.appendChild(document.createElement("img")).alt = "";
      li.appendChild(document.createElement("time"));
      var s = li.appendChild(document.createElement("span"));
      s.appendChild(document.createTextNode(""));
      var b = s.appendChild(document.createElement("b"));
      b.className = "vio-count";
      b.hidden = true;
    }
    var ids = idsOf(li).concat([String(ev.payload.id)]);
    li.dataset.ids = ids.join(" ");
    li.dataset.violation = ev.payload.id;          // the scene's newest
    li.dataset.last = ev.occurred_at;
    li.className = "fresh";
    li.querySelector("img").src = "/api/v1/photos/" + ev.payload.snapshot + "?thumb=1";
    li.querySelector("time").textContent = Live.timeOf(ev.occurred_at, tz);
    li.querySelector("span").firstChild.textContent = name;
    var count = li.querySelector(".vio-count");
    count.textContent = "×" + ids.length;
    count.hidden = ids.length < 2;
    list.insertBefore(li, list.firstChild);
    while (list.children.length > MAX) list.removeChild(list.lastChild);
  });
})();
