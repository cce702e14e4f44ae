/* The room overlay: renders the bus state (served as /static/overlays/room.js, linted by eslint). */
(function () {
  "use strict";
  var areas = {};
  try { areas = JSON.parse(document.getElementById("dx-areas").textContent); } catch (err) { areas = {}; }
  var areaEl = document.getElementById("room-area");
  var nameEl = document.getElementById("room-name");
  var timeEl = document.getElementById("room-time");
  var enteredAt = performance.now();

  function enter(scene, area, secondsIn) {
    var name = scene ? String(scene) : null;
    DXBus.setText(nameEl, name || "\u2014");
    var a = area || (name && Object.prototype.hasOwnProperty.call(areas, name) ? areas[name] : "");
    DXBus.setText(areaEl, a || "");
    document.getElementById("room").dataset.scene = name || "";
    enteredAt = performance.now() - (Number(secondsIn) || 0) * 1000;
    tick();
  }
  function tick() { DXBus.setText(timeEl, DXBus.formatTime((performance.now() - enteredAt) / 1000)); }

  DXBus.connect({
    snapshot: function (snap) {
      var sc = snap.state.scene || {};
      enter(sc.current, sc.area, sc.time_in_scene);
    },
    on: {
      scene_transition: function (d, ev) {
        if (ev.replayed) return;
        enter(d.to_scene || d.scene_name, d.area, 0);
      },
      timing_update: function (d, ev) {
        var t = Number(d.scene_time);
        if (!ev.replayed && isFinite(t) && t >= 0) { enteredAt = performance.now() - t * 1000; tick(); }
      },
    },
  });
  setInterval(tick, 250);
})();
