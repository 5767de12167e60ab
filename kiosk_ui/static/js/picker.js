// The person picker (templates/_picker.html): a combobox (WAI-ARIA 1.2 "list autocomplete") that asks the
// server for matches as one types (GET /api/v1/people/search: part of a name, an employee number, or the
// pinyin initials of a name), 150 ms after the last key, an older answer never overwriting a newer one.
// ↓/↑ move through the matches (the field keeps the focus: aria-activedescendant), Enter chooses, Esc
// closes (a second Esc empties the field), Tab leaves. The chosen person's id goes in the hidden input the
// form sends; typing again un-chooses, and a field with text but nobody chosen does not submit (so a typed
// name is never silently dropped). On a phone the field scrolls to the top when it gets the focus, so the
// list below it stays above the on-screen keyboard.
(function () {
  "use strict";

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  function setup(box) {
    if (box.dataset.bound) return;
    box.dataset.bound = "1";
    var T = JSON.parse(box.dataset.texts || "{}");
    var hidden = box.querySelector("input[type=hidden]");
    var input = box.querySelector(".picker-input");
    var list = box.querySelector(".picker-list");
    var status = box.querySelector(".picker-status");
    var clearBtn = box.querySelector(".picker-clear");
    var hint = status.textContent;
    var items = [], active = -1, timer = null, ctrl = null, seq = 0;

    function label(p) { return p.name + " · " + p.employee_no; }

    function validity() {
      var msg = "";
      if (input.value.trim() && !hidden.value) msg = T.unpicked || "";
      else if (box.dataset.required && !hidden.value) msg = T.required || "";
      input.setCustomValidity(msg);
    }

    function setOpen(on) {
      list.hidden = !on;
      input.setAttribute("aria-expanded", on ? "true" : "false");
      if (!on) mark(-1);
    }

    function mark(i) {
      active = i;
      Array.prototype.forEach.call(list.children, function (li, k) {
        li.setAttribute("aria-selected", k === i ? "true" : "false");
      });
      if (i >= 0 && list.children[i]) {
        input.setAttribute("aria-activedescendant", list.children[i].id);
        list.children[i].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(p) {
      hidden.value = String(p.id);
      input.value = label(p);
      setOpen(false);
      status.textContent = (T.chosen || "").replace("{name}", label(p));
      validity();
      hidden.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function clear() {
      hidden.value = "";
      input.value = "";
      items = [];
      list.innerHTML = "";
      setOpen(false);
      status.textContent = hint;
      validity();
    }

    function render(j) {
      items = j.people;
      list.innerHTML = "";
      items.forEach(function (p, k) {
        var li = el("li");
        li.id = box.id + "-opt-" + k;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.dataset.id = p.id;
        li.appendChild(el("span", "who", p.name));
        li.appendChild(el("span", "no", p.employee_no));
        if (p.company || p.department || p.job) {
          li.appendChild(el("span", "unit", [p.company || p.department, p.job].filter(Boolean).join(" · ")));
        }
        // mousedown, not click: the field keeps the focus (no blur closing the list first)
        li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(p); });
        list.appendChild(li);
      });
      status.textContent = !items.length ? T.none
        : j.more ? T.more.replace("{n}", items.length).replace("{total}", j.total)
        : T.count.replace("{n}", items.length);
      setOpen(items.length > 0);
      if (items.length) mark(0);
    }

    function query() {
      var mine = ++seq;
      if (ctrl) ctrl.abort();
      ctrl = typeof AbortController === "function" ? new AbortController() : null;
      status.textContent = T.searching;
      var url = box.dataset.search + "?limit=20&q=" + encodeURIComponent(input.value.trim()) +
        (box.dataset.kind ? "&kind=" + encodeURIComponent(box.dataset.kind) : "");
      fetch(url, { credentials: "same-origin", signal: ctrl ? ctrl.signal : undefined, headers: { Accept: "application/json" } })
        .then(function (r) {
          return r.json().then(function (j) {
            if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText);
            return j;
          });
        })
        .then(function (j) { if (mine === seq) render(j); },
              function (e) {
                if (e.name === "AbortError" || mine !== seq) return;
                status.textContent = (T.error || "{message}").replace("{message}", e.message);
                setOpen(false);
              });
    }

    input.addEventListener("input", function () {
      if (hidden.value) { hidden.value = ""; hidden.dispatchEvent(new Event("change", { bubbles: true })); }
      validity();
      clearTimeout(timer);
      timer = setTimeout(query, 150);
    });
    // a phone: the on-screen keyboard takes the lower half; the field goes to the top to leave room. Again
    // when the screen left over changes while the field has the focus: a scroll begun before the keyboard had
    // opened stops where the taller screen's page ended, with the list under the keyboard.
    function toTop() {
      var vv = window.visualViewport;
      if ((vv ? vv.height : window.innerHeight) < 700 || window.innerWidth < 600) {
        setTimeout(function () { box.scrollIntoView({ block: "start", behavior: "smooth" }); }, 50);
      }
    }
    input.addEventListener("focus", toTop);
    (window.visualViewport || window).addEventListener("resize", function () {
      if (document.activeElement === input) toTop();
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (list.hidden) { if (items.length) { setOpen(true); mark(0); } else query(); return; }
        var n = items.length;
        if (n) mark(e.key === "ArrowDown" ? (active + 1) % n : (active - 1 + n) % n);
      } else if (e.key === "Enter") {
        if (!list.hidden && active >= 0 && items[active]) { e.preventDefault(); choose(items[active]); }
        else if (input.value.trim() && !hidden.value) { e.preventDefault(); clearTimeout(timer); query(); }
      } else if (e.key === "Escape") {
        if (!list.hidden) { e.preventDefault(); setOpen(false); }
        else if (input.value) { e.preventDefault(); clear(); }
      } else if (e.key === "Tab") {
        setOpen(false);
      }
    });
    input.addEventListener("blur", function () { setTimeout(function () { setOpen(false); }, 100); });
    input.addEventListener("invalid", function () { status.textContent = input.validationMessage; });
    clearBtn.addEventListener("click", function () { clear(); input.focus(); });
    if (input.form) input.form.addEventListener("reset", function () { setTimeout(clear, 0); });
    validity();
  }

  function bind(root) { Array.prototype.forEach.call((root || document).querySelectorAll("[data-picker]"), setup); }
  bind(document);
  window.SafetyPicker = { bind: bind };
})();
