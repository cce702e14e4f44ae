/* The stats overlay: renders the bus state (served as /static/overlays/stats.js, linted by eslint). */
(function () {
  "use strict";
  var el = {};
  ["time", "deaths", "dealt", "taken", "rooms", "kills"].forEach(function (k) {
    el[k] = document.getElementById("stat-" + k);
  });
  var v = { deaths: 0, dealt: 0, taken: 0, kills: 0 };
  var visited = new Set();
  var roomsCount = 0;
  var sessionStart = performance.now();

  function num(x) { var n = Number(x); return isFinite(n) ? n : 0; }
  function round(x) { return String(Math.round(x * 10) / 10); }
  function render() {
    DXBus.setText(el.deaths, v.deaths);
    DXBus.setText(el.dealt, round(v.dealt));
    DXBus.setText(el.taken, round(v.taken));
    DXBus.setText(el.kills, v.kills);
    DXBus.setText(el.rooms, Math.max(roomsCount, visited.size));
    tick();
  }
  function tick() { DXBus.setText(el.time, DXBus.formatTime((performance.now() - sessionStart) / 1000)); }

  DXBus.connect({
    snapshot: function (snap) {
      var st = snap.state;
      v.deaths = num((st.deaths || {}).session);
      v.dealt = num((st.damage || {}).dealt);
      v.taken = num((st.damage || {}).taken);
      v.kills = num(st.enemies_killed);
      var sc = st.scene || {};
      visited = new Set(Array.isArray(sc.visited) ? sc.visited.map(String) : []);
      roomsCount = num(sc.rooms_visited);
      sessionStart = performance.now() - num((st.session || {}).time) * 1000;
      render();
    },
    on: {
      player_death: function (d, ev) { if (!ev.replayed) { v.deaths += 1; render(); } },
      combat_damage: function (d, ev) {
        if (ev.replayed) return;
        var n = num(d.damage);
        if (n <= 0) return;
        if (d.is_player_damage === true || d.is_player_damage === "true") v.taken += n; else v.dealt += n;
        render();
      },
      combat_stats: function (d, ev) {
        if (ev.replayed) return;
        if (d.total_damage_dealt != null) v.dealt = num(d.total_damage_dealt);
        if (d.total_damage_taken != null) v.taken = num(d.total_damage_taken);
        if (d.enemies_killed != null) v.kills = num(d.enemies_killed);
        render();
      },
      enemy_killed: function (d, ev) { if (!ev.replayed) { v.kills += 1; render(); } },
      scene_transition: function (d, ev) {
        var to = d.to_scene || d.scene_name;
        if (!ev.replayed && to && !visited.has(String(to))) {
          visited.add(String(to));
          roomsCount = Math.max(roomsCount + 1, visited.size);
          render();
        }
      },
      timing_update: function (d, ev) {
        var t = Number(d.session_time);
        if (!ev.replayed && isFinite(t) && t >= 0) { sessionStart = performance.now() - t * 1000; tick(); }
      },
    },
  });
  setInterval(tick, 500);
})();
