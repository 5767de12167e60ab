// Camera tiles: each tile reloads its camera's newest annotated JPEG a few times a second (plain <img>, no
// plug-in); a tile without a frame shows "no signal" and retries. New hard-hat violations arrive on the
// live stream (board.js re-dispatches them as "live-event") and go to the top of the violations list.
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

  var list = document.getElementById("violations");
  document.addEventListener("live-event", function (e) {
    var ev = e.detail;
    if (!list) return;
    if (ev.type === "vision.confirmed" || ev.type === "vision.rejected") {
      var done = list.querySelector('[data-violation="' + ev.payload.id + '"]');
      if (done) done.remove();
      return;
    }
    if (ev.type !== "vision.violation") return;
    var empty = list.querySelector(".empty");
    if (empty) empty.remove();
    var li = document.createElement("li");
    li.dataset.violation = ev.payload.id;
    li.className = "fresh";
    var im = document.createElement("img");
    im.src = "/api/v1/photos/" + ev.payload.snapshot + "?thumb=1";
    im.alt = "";
    var t = document.createElement("time");
    t.textContent = Live.timeOf(ev.occurred_at, tz);
    var s = document.createElement("span");
    s.textContent = ((ev.names && ev.names.camera) || ev.payload.camera) + " · " + Number(ev.payload.score).toFixed(2);
    li.appendChild(im); li.appendChild(t); li.appendChild(s);
    list.insertBefore(li, list.firstChild);
    while (list.children.length > MAX) list.removeChild(list.lastChild);
  });
})();
