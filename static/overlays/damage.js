/* Damage numbers: one floating number per `combat_damage` event (events, not state: nothing here is
   counted or kept; numbers close together on one side are merged on screen only). */
(function () {
  "use strict";
  var S = DXBus.settings;
  var layer = document.getElementById("damage");
  var live = [];          // numbers on screen, oldest first
  var shown = 0;          // numbers created (not merges), for tests and the benchmark
  var duration = Math.max(50, S.duration * (S.motion > 0 ? S.motion : 1));
  var FLOAT_FADE_AT = 0.75;  // share of the float shown at full opacity; the fade takes the rest

  function remove(n) {
    if (n.gone) return;
    n.gone = true;
    if (n.anim) n.anim.cancel();
    clearTimeout(n.timer);
    if (n.el.parentNode) n.el.parentNode.removeChild(n.el);
    var i = live.indexOf(n);
    if (i >= 0) live.splice(i, 1);
  }

  function fmt(v) { return DXBus.formatCount(v); }  // 12,345.6: grouped, one decimal at most

  // A hit changes the text nodes' data, never the nodes: `textContent` would replace the node, and a new
  // node costs a style recalc and a layout object on every merged hit (16 a frame at 1,000 hits/s).
  function setData(node, text) {
    if (node.data !== text) node.data = text;
  }

  function render(n) {
    setData(n.text, fmt(n.value));
    setData(n.times, n.count > 1 ? "\u00d7" + n.count : "");
    var big = n.side === "taken" ? n.value >= 2 : n.value >= S.big_hit;
    var huge = n.side === "taken" ? n.value >= 4 : n.value >= S.big_hit * 3;
    var cls = "dmg " + n.side + (huge ? " huge" : big ? " big" : "");
    if (n.el.className !== cls) n.el.className = cls;
  }

  function float(n) {
    // The animation drives removal; a timer backs it up (OBS pauses animations of hidden sources).
    clearTimeout(n.timer);
    n.floated = performance.now();
    n.timer = setTimeout(function () { remove(n); }, duration + 250);
    if (S.motion > 0 && n.el.animate) DXBus.nextFrame(function () { animate(n); });
  }

  // Started in the frame that first paints the number: the DOM write itself stays cheap.
  function animate(n) {
    if (n.gone) return;
    if (n.anim) n.anim.cancel();
    var rise = n.side === "taken" ? 70 : 120;
    // Linear time with an easing per segment: a pop, a rise at full opacity for three quarters of the
    // float (an eased whole would reach its fade early: half transparent a quarter of the way in), then
    // the fade. Tests read the number at any point by pausing this animation (FLOAT_FADE_AT).
    n.anim = n.el.animate([
      { transform: "translate(-50%, -50%) scale(1.35)", opacity: 1, offset: 0, easing: "ease-out" },
      { transform: "translate(-50%, -60%) scale(1)", opacity: 1, offset: 0.15, easing: "ease-out" },
      { transform: "translate(-50%, calc(-50% - " + (rise * 0.8) + "px)) scale(0.96)", opacity: 1,
        offset: FLOAT_FADE_AT, easing: "ease-in" },
      { transform: "translate(-50%, calc(-50% - " + rise + "px)) scale(0.9)", opacity: 0, offset: 1 }
    ], { duration: duration, easing: "linear", fill: "forwards" });
    n.anim.onfinish = function () { remove(n); };
  }

  function hit(d, ev) {
    if (ev.replayed) return;  // missed while the bus was down: stale, not shown late
    var value = Number(d.damage);
    if (!isFinite(value) || value <= 0) return;
    var taken = d.is_player_damage === true;  // a boolean: the bus reads it once, at the edge (events.validate)
    var side = taken ? "taken" : "dealt";
    if (!(taken ? S.show_taken : S.show_dealt)) return;
    var now = performance.now();
    // Merge into the newest number on the same side if it is young enough: no pile-up.
    for (var i = live.length - 1; i >= 0; i--) {
      var prev = live[i];
      if (prev.side !== side) continue;
      if (now - prev.born < S.merge_ms) {
        prev.value += value;
        prev.count += 1;
        prev.born = now;
        render(prev);
        // Restarting the float is what costs (a new animation); at high hit rates do it at most
        // every 100 ms: the number still lives a full float time after its last hit, give or take.
        if (now - prev.floated >= 100) float(prev);
        return;
      }
      break;
    }
    while (live.length >= S.max_numbers) remove(live[0]);
    var el = document.createElement("div");
    var textSpan = document.createElement("span");
    var timesSpan = document.createElement("span");
    timesSpan.className = "times";
    // An empty text node paints and lays out nothing, as an empty span does.
    var text = textSpan.appendChild(document.createTextNode(""));
    var times = timesSpan.appendChild(document.createTextNode(""));
    el.appendChild(textSpan);
    el.appendChild(timesSpan);
    var x = (taken ? S.taken_x : S.dealt_x) / 100 * window.innerWidth + (Math.random() - 0.5) * S.spread;
    var y = (taken ? S.taken_y : S.dealt_y) / 100 * window.innerHeight + (Math.random() - 0.5) * S.spread * 0.6;
    el.style.left = x + "px";
    el.style.top = y + "px";
    var n = { el: el, text: text, times: times, side: side, value: value, count: 1, born: now, seq: ev.seq };
    el.dataset.seq = ev.seq;
    render(n);
    layer.appendChild(el);
    live.push(n);
    shown += 1;
    layer.dataset.shown = shown;
    float(n);
  }

  DXBus.connect({ types: ["combat_damage"], on: { combat_damage: hit } });
})();
