/* The boss overlay: the fight in progress, its timer, attempts, best and the last result, all from the
   server state (`state.boss`, `state.bosses`, `state.timers.fight`). The fight time is the server's:
   running, it is drawn from the server's clock; ended, it is the settled time (the game's when it sent
   one), the same number as the alert, the text files and `/api/state`. */
(function () {
  "use strict";
  var S = DXBus.settings;
  var box = document.getElementById("boss");
  var el = {
    name: document.getElementById("boss-name"), timer: document.getElementById("boss-timer"),
    attempts: document.getElementById("boss-attempts"), best: document.getElementById("boss-best"),
    last: document.getElementById("boss-last"), list: document.getElementById("boss-list"),
    meta: document.getElementById("boss-meta"),
  };
  var fightTimer = null;

  function time(t) { return DXBus.formatTime(t, S.tenths); }
  function tick() { DXBus.setText(el.timer, time(DXBus.timer(fightTimer))); }

  function renderList(bosses, first) {
    if (!S.show_list) return;
    // The boss on screen first, then the others, most recently met first (the state keeps them in
    // the order they were first met).
    var names = Object.keys(bosses).reverse();
    if (first && names.indexOf(first) > 0) {
      names.splice(names.indexOf(first), 1);
      names.unshift(first);
    }
    var rows = names.slice(0, S.list_size).map(function (name) {
      var r = bosses[name] || {};
      var li = document.createElement("li");
      [["n", name], ["a", DXBus.formatCount(Number(r.attempts) || 0) + "\u00d7"], ["b", r.best != null ? time(r.best) : "\u2013"]]
        .forEach(function (cell) {
          var span = document.createElement("span");
          span.className = cell[0];
          span.textContent = cell[1];
          li.appendChild(span);
        });
      return li;
    });
    el.list.replaceChildren.apply(el.list, rows);
  }

  function render(state) {
    var b = state.boss || {};
    var last = b.last_result && b.last_result.boss ? b.last_result : null;
    var name = b.current || (last && last.boss) || null;
    var idle = !name;
    box.classList.toggle("idle", idle);
    box.classList.toggle("active", !!b.active);
    if (S.hide_when_idle) box.classList.toggle("dx-hidden", idle);
    // Idle parts stay hidden: no "\u2014", "0:00" or "Attempt 0" on stream before the first fight.
    [el.name, el.timer, el.meta].forEach(function (part) { part.classList.toggle("dx-hidden", idle); });
    DXBus.setText(el.name, name || "");
    DXBus.setText(el.attempts, DXBus.formatCount(Number(b.attempts) || 0));
    DXBus.setText(el.best, b.best != null ? time(b.best) : "\u2013");
    // The timer's colour says how the fight on screen ended; running (or none yet) it is neutral.
    var ended = last && !b.active && last.boss === name;
    var gold = ended && last.result === "defeated" && b.best != null && Number(last.time) <= Number(b.best);
    el.timer.classList.toggle("won", !!ended && last.result === "defeated" && !gold);
    el.timer.classList.toggle("gold", !!gold);
    el.timer.classList.toggle("lost", !!ended && last.result !== "defeated");
    if (last) {
      var won = last.result === "defeated";
      el.last.className = "result-" + (won ? "defeated" : "died");
      DXBus.setText(el.last, (won ? "Defeated " : last.result === "left" ? "Left " : "Died to ") + last.boss +
                    (won ? " in " : " at ") + time(last.time || 0));
    } else {
      DXBus.setText(el.last, "");
    }
    renderList(state.bosses || {}, name);
    fightTimer = (state.timers || {}).fight || null;
    tick();
  }

  DXBus.connect({ types: [], render: render });
  DXBus.every(S.tenths ? 50 : 250, function () { if (fightTimer && fightTimer.running) tick(); });
})();
