/* The death counter: this session's and all-time deaths from the server state (`state.deaths`). */
(function () {
  "use strict";
  var S = DXBus.settings;
  var sessionEl = document.getElementById("session");
  var totalEl = document.getElementById("total");
  var shown = null;  // the session count on screen, only to know when to play the bump

  function render(state, info) {
    var d = state.deaths || {};
    var session = Number(d.session) || 0;
    DXBus.setText(sessionEl, DXBus.formatCount(session));
    DXBus.setText(totalEl, DXBus.formatCount(Number(d.total) || 0));
    if (!info.full && shown !== null && session > shown && S.motion > 0 && sessionEl.animate) {
      sessionEl.animate([{ transform: "scale(1.6)", color: S.accent }, { transform: "scale(1)" }],
                        { duration: 500 * S.motion, easing: "ease-out" });
    }
    shown = session;
  }

  DXBus.connect({ types: [], render: render });
})();
