/* The race-duel overlay: two runners and the delta between them at each split both reached. */
(function () {
  "use strict";
  var S = DXBus.settings;
  var R = window.DXRace;
  var nameA = document.getElementById("name-a");
  var nameB = document.getElementById("name-b");
  var deltaEl = document.getElementById("delta");
  var strip = document.getElementById("strip");

  function pick(state, wanted, fallback) {
    return (wanted && R.runner(state, wanted)) || state.runners[fallback] || null;
  }

  function render(state) {
    var a = pick(state, S.a, 0);
    var b = pick(state, S.b, a === state.runners[0] ? 1 : 0);
    DXBus.setText(nameA, a ? a.runner : "");
    DXBus.setText(nameB, b ? b.runner : "");
    var cells = [];
    var last = null;
    if (a && b) {
      var times = {};
      b.splits.forEach(function (s) { times[s.index] = s.game; });
      a.splits.forEach(function (s) {
        if (times[s.index] === undefined) return;
        var d = s.game - times[s.index];  // negative: a was faster there
        last = d;
        var cell = R.el("div", "rd-cell", s.name);
        cell.dataset.ahead = d < 0 ? "a" : d > 0 ? "b" : "even";
        cell.appendChild(R.el("b", null, R.delta(d)));
        cells.push(cell);
      });
    }
    DXBus.setText(deltaEl, last === null ? "vs" : R.delta(last));
    deltaEl.dataset.delta = last === null ? "" : last.toFixed(3);
    R.fill(strip, cells.slice(-S.splits_shown));
  }

  R.follow(S.race, render);
})();
