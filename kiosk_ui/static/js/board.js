// Wall board and tablet home: prepend each live event to the feed, newest first.
(function () {
  "use strict";
  var board = document.querySelector(".board");
  var tz = board.dataset.tz, feed = document.getElementById("feed");
  var MAX = 40;
  Live.clock(document.getElementById("clock"), tz);
  if (board.dataset.live !== "1") {   // a role that may not read the event log: values only (points.js)
    var st = document.getElementById("live-state");
    if (st) st.hidden = true;
    return;
  }
  // a page with the plan's points or the alarm banner takes the board frame (points.js shows it)
  var frames = document.getElementById("alarm-banner") || document.querySelector("[data-point]") ? ["board"] : [];
  Live.connect(parseInt(board.dataset.head, 10) || 0, function (ev) {
    document.dispatchEvent(new CustomEvent("live-event", { detail: ev }));
    if (!feed) return;
    var empty = feed.querySelector(".empty");
    if (empty) empty.remove();
    var li = document.createElement("li");
    li.dataset.seq = ev.seq;
    li.className = "fresh";
    var t = document.createElement("time");
    t.textContent = Live.timeOf(ev.recorded_at, tz);
    var s = document.createElement("span");
    var line = Live.describe(ev), actor = (ev.names && ev.names.actor) || "";
    s.textContent = line + " ";
    if (actor && line.indexOf(actor) < 0) {   // who did it, by name (the stream's names.actor), never an id
      var who = document.createElement("em");
      who.className = "who";
      who.textContent = actor;
      s.appendChild(who);
    }
    li.appendChild(t); li.appendChild(s);
    feed.insertBefore(li, feed.firstChild);
    while (feed.children.length > MAX) feed.removeChild(feed.lastChild);
  }, frames);
})();

// Component states (a dead sensor, a full disk) are shown, never hidden: refresh them every 15 s.
(function () {
  "use strict";
  var list = document.getElementById("components");
  if (!list) return;
  function refresh() {
    fetch("/api/v1/health", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (h) {
      Object.keys(h.components || {}).forEach(function (name) {
        var c = h.components[name];
        var li = list.querySelector('[data-component="' + name + '"]'), fresh = !li;
        if (!li) {
          li = document.createElement("li");
          li.dataset.component = name;
          li.appendChild(document.createElement("span"));
          li.appendChild(document.createElement("b"));
          list.appendChild(li);
        }
        li.className = "st-" + c.status;
        li.title = c.reason || "";
        var kind = name.split(":")[0], rest = name.slice(kind.length + 1);  // bus:, reader:, sync:, camera:<name>
        if (fresh) {   // the page named the ones it knew (a camera by its title): keep those words
          li.querySelector("span").textContent = rest ? Live.text("component." + kind, { name: rest })
                                                      : Live.text("component." + name);
        }
        li.querySelector("b").textContent = Live.text("status." + c.status);
      });
      var names = Object.keys(h.components || {}), ok = names.filter(function (n) { return h.components[n].status === "ok"; });
      var sum = document.getElementById("components-ok");
      if (sum) {
        sum.querySelector("b").textContent = Live.text(ok.length === names.length ? "status.all_ok" : "status.ok_count", { n: ok.length });
        list.appendChild(sum);   // after any component the refresh added
      }
    }).catch(function () { /* the live-state badge already shows a lost connection */ });
  }
  setInterval(refresh, 15000);
})();
