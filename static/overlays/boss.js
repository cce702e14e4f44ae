/* The boss overlay: renders the bus state (served as /static/overlays/boss.js, linted by eslint). */
(function () {
  "use strict";
  var S = DXBus.settings;
  var box = document.getElementById("boss");
  var el = {
    name: document.getElementById("boss-name"), timer: document.getElementById("boss-timer"),
    attempts: document.getElementById("boss-attempts"), best: document.getElementById("boss-best"),
    last: document.getElementById("boss-last"),
  };
  var bosses = {};                 // name -> {attempts, defeats, best}
  var current = null, active = false, startedAt = 0, frozen = 0, last = null;

  function record(name) {
    if (!bosses[name]) bosses[name] = { attempts: 0, defeats: 0, best: null };
    return bosses[name];
  }
  function elapsed() { return active ? (performance.now() - startedAt) / 1000 : frozen; }
  function time(t) { return DXBus.formatTime(t, S.tenths); }

  function render() {
    var idle = current === null && last === null;
    box.classList.toggle("idle", idle);
    box.classList.toggle("active", active);
    if (S.hide_when_idle) box.classList.toggle("dx-hidden", idle);
    var name = current || (last && last.boss) || null;
    DXBus.setText(el.name, name || "\u2014");
    var r = name ? record(name) : null;
    DXBus.setText(el.attempts, r ? r.attempts : 0);
    DXBus.setText(el.best, r && r.best !== null ? time(r.best) : "\u2013");
    if (last) {
      el.last.className = "result-" + (last.result === "defeated" ? "defeated" : "died");
      DXBus.setText(el.last, (last.result === "defeated" ? "Defeated " : "Died to ") + last.boss +
                    (last.result === "defeated" ? " in " : " at ") + time(last.time));
    } else {
      DXBus.setText(el.last, "");
    }
    if (name) touch(name);
    renderList();
    tick();
  }
  function tick() { DXBus.setText(el.timer, time(elapsed())); }

  // Every boss fought: most recently fought first (the order names were last touched).
  var order = [];
  function touch(name) {
    var i = order.indexOf(name);
    if (i >= 0) order.splice(i, 1);
    order.unshift(name);
  }
  function renderList() {
    if (!S.show_list) return;
    var list = document.getElementById("boss-list");
    while (list.firstChild) list.removeChild(list.firstChild);
    order.slice(0, S.list_size).forEach(function (name) {
      var r = record(name);
      var li = document.createElement("li");
      [["n", name], ["a", r.attempts + "\u00d7"], ["b", r.best !== null ? time(r.best) : "\u2013"]]
        .forEach(function (cell) {
          var span = document.createElement("span");
          span.className = cell[0];
          span.textContent = cell[1];
          li.appendChild(span);
        });
      list.appendChild(li);
    });
  }

  function finish(result, seconds) {
    if (current === null) return;
    var t = seconds !== undefined && seconds !== null && isFinite(Number(seconds)) ? Number(seconds) : elapsed();
    var r = record(current);
    if (result === "defeated") {
      r.defeats += 1;
      if (r.best === null || t < r.best) r.best = t;
    }
    last = { boss: current, result: result, time: t };
    frozen = t;
    active = false;
    current = null;
    render();
  }

  DXBus.connect({
    snapshot: function (snap) {
      var b = snap.state.boss || {};
      var all = snap.state.bosses || {};
      bosses = {};
      order = Object.keys(all).reverse();
      Object.keys(all).forEach(function (name) {
        var r = all[name] || {};
        bosses[name] = { attempts: Number(r.attempts) || 0, defeats: Number(r.defeats) || 0,
                         best: r.best === null || r.best === undefined ? null : Number(r.best) };
      });
      current = b.current || null;
      active = !!(b.active && current);
      var t = Number(b.fight_time) || 0;
      startedAt = performance.now() - t * 1000;
      frozen = t;
      if (current) {
        var r = record(current);
        if (b.attempts !== undefined && b.attempts !== null) r.attempts = Number(b.attempts) || r.attempts;
        if (b.best !== undefined && b.best !== null) r.best = Number(b.best);
      }
      var lr = b.last_result;
      last = lr && lr.boss ? { boss: String(lr.boss), result: lr.result, time: Number(lr.time) || 0 } : null;
      render();
    },
    on: {
      boss_encounter: function (d, ev) {
        if (ev.replayed) return;
        var phase = d.phase || "start";
        var name = d.boss_name ? String(d.boss_name) : "Boss";
        if (phase === "start") {
          current = name;
          active = true;
          startedAt = performance.now();
          record(name).attempts += 1;
          render();
        } else if (phase === "defeated") {
          if (current === null) current = name;
          finish("defeated", d.time);
        }
      },
      boss_defeated: function (d, ev) {
        if (ev.replayed) return;
        if (current === null && d.boss_name) current = String(d.boss_name);
        if (last && !active && last.boss === current && last.result === "defeated") { current = null; return; }
        finish("defeated", d.time);
      },
      player_death: function (d, ev) {
        if (!ev.replayed && active) finish("died");
      },
    },
  });
  setInterval(function () { if (active) tick(); }, S.tenths ? 50 : 250);
})();
