/* The practice overlay: renders the bus state (served as /static/overlays/practice.js, linted by eslint). */
(function () {
  "use strict";
  var S = DXBus.settings;
  var box = document.getElementById("practice");
  var ids = ["target", "clock", "attempts", "cleared", "deaths", "best", "average", "damage", "history"];
  var el = {};
  ids.forEach(function (id) { el[id] = document.getElementById("practice-" + id); });
  var data = null, fetchedAt = 0, pending = false, again = false;

  function time(t) { return t === null || t === undefined ? "\u2013" : DXBus.formatTime(t, S.tenths); }
  function live() { return data && data.current; }

  function render() {
    if (!data) return;
    var target = data.target;
    if (S.hide_when_off) box.classList.toggle("dx-hidden", !target);
    box.classList.toggle("live", !!live());
    DXBus.setText(el.target, target ? target.name : "No target");
    DXBus.setText(el.attempts, data.attempts);
    DXBus.setText(el.cleared, data.cleared);
    DXBus.setText(el.deaths, data.deaths);
    DXBus.setText(el.best, time(data.best));
    DXBus.setText(el.average, time(data.average));
    DXBus.setText(el.damage, data.damage_taken);
    var items = data.history.slice(Math.max(0, data.history.length - S.history)).reverse().map(function (a) {
      var li = document.createElement("li");
      li.className = a.result;
      var result = document.createElement("span");
      result.className = "result";
      DXBus.setText(result, "#" + a.number + " " + a.result);
      var rest = document.createElement("span");
      DXBus.setText(rest, " " + time(a.time) + (S.show_damage ? " \u00b7 " + a.damage_taken + " dmg" : ""));
      li.append(result, rest);
      return li;
    });
    el.history.replaceChildren.apply(el.history, S.history ? items : []);
    tick();
  }

  function tick() {
    var t = 0;
    if (live()) t = Number(data.current.time) + (performance.now() - fetchedAt) / 1000;
    else if (data && data.last) t = Number(data.last.time) || 0;
    DXBus.setText(el.clock, time(t));
  }

  function refresh() {
    if (pending) { again = true; return; }
    pending = true;
    fetch(DXBus.assetUrl("/api/practice"), { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error("GET /api/practice: HTTP " + r.status); return r.json(); })
      .then(function (body) { data = body; fetchedAt = performance.now(); render(); })
      .catch(function (err) { console.warn("[dxbus] practice:", err.message); })
      .then(function () { pending = false; if (again) { again = false; refresh(); } });
  }

  DXBus.connect({
    snapshot: function () { refresh(); },
    on: {
      scene_transition: function (d, ev) { if (!ev.replayed) refresh(); },
      boss_encounter: function (d, ev) { if (!ev.replayed) refresh(); },
      boss_defeated: function (d, ev) { if (!ev.replayed) refresh(); },
      player_death: function (d, ev) { if (!ev.replayed) refresh(); },
      combat_damage: function (d, ev) { if (!ev.replayed && d.is_player_damage) refresh(); },
    },
  });
  setInterval(function () { if (live()) tick(); }, S.tenths ? 50 : 250);
  setInterval(refresh, 2000);  // a target chosen over HTTP has no event: look again now and then
})();
