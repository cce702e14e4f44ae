/* The deaths overlay: renders the bus state (served as /static/overlays/deaths.js, linted by eslint). */
(function () {
  "use strict";
  var S = DXBus.settings;
  var sessionEl = document.getElementById("session");
  var totalEl = document.getElementById("total");
  var session = 0, total = 0;

  function show(bump) {
    DXBus.setText(sessionEl, session);
    DXBus.setText(totalEl, total);
    if (bump && S.motion > 0 && sessionEl.animate) {
      sessionEl.animate([{ transform: "scale(1.6)", color: S.accent }, { transform: "scale(1)" }],
                        { duration: 500 * S.motion, easing: "ease-out" });
    }
  }

  DXBus.connect({
    snapshot: function (snap) {
      var d = snap.state.deaths || {};
      session = Number(d.session) || 0;
      total = Math.max(Number(d.total) || 0, session);
      show(false);
    },
    on: {
      player_death: function (data, ev) {
        if (ev.replayed) return;  // already counted in the snapshot
        session += 1;
        total += 1;
        show(true);
      },
    },
  });
})();
