/* The HP overlay: masks and silk from the server state (`state.player`); it only renders. */
(function () {
  "use strict";
  var S = DXBus.settings;
  var root = document.getElementById("hp");
  var masksEl = document.getElementById("masks");
  var fill = document.getElementById("silk-fill");
  var silk = document.getElementById("silk");
  var hpNum = document.getElementById("hp-num");
  var silkNum = document.getElementById("silk-num");
  var masks = [];
  var health = null, healthMax = null, mp = null, mpMax = null;
  var motion = S.motion;

  function int(v, fallback) {
    if (v === null || v === undefined || v === "") return fallback;
    var n = Math.round(Number(v));
    return isFinite(n) && n >= 0 ? n : fallback;
  }

  // Masks are built once per max and then only have their class flipped: cheap at any event rate.
  function buildMasks(max) {
    max = Math.min(max, 40);
    while (masks.length < max) {
      var m = document.createElement("span");
      m.className = "mask";
      masksEl.insertBefore(m, fxHit);
      masks.push(m);
    }
    while (masks.length > max) masksEl.removeChild(masks.pop());
  }

  var fxHit = document.getElementById("fx-hit");
  var fxHeal = document.getElementById("fx-heal");
  var POP = [{ transform: "scale(1.45)" }, { transform: "scale(1)" }];
  var CRACK = [{ transform: "scale(1.25) rotate(-10deg)", opacity: 0.4 }, { transform: "none", opacity: 1 }];
  var GLOW = [{ opacity: 0.85 }, { opacity: 0 }];

  // Decorative animations touch only transform/opacity (compositor work), and an element already
  // animating is left alone: a burst of hits costs a class flip per mask, not a pile of animations.
  function pulse(el, frames, ms) {
    if (!(motion > 0) || !el.animate || el._dxPending) return;
    el._dxPending = true;
    DXBus.nextFrame(function () {  // started just before the paint, off the event's path
      el._dxPending = false;
      if (el._dxAnim && el._dxAnim.playState === "running") return;
      el._dxAnim = el.animate(frames, { duration: ms * motion, easing: "ease-out" });
    });
  }

  function setHealth(current, max, animate) {
    if (max !== healthMax) { buildMasks(max); healthMax = max; }
    current = Math.min(current, max);
    var before = health;
    for (var i = 0; i < masks.length; i++) {
      var full = i < current;
      if (masks[i].classList.contains("full") !== full) {
        masks[i].classList.toggle("full", full);
        if (animate && before !== null) pulse(masks[i], full ? POP : CRACK, 420);  // healed: pop; lost: crack
      }
    }
    if (animate && before !== null && current !== before) pulse(current < before ? fxHit : fxHeal, GLOW, 450);
    health = current;
    root.dataset.health = current;
    root.dataset.max = max;
    DXBus.setText(hpNum, current + "/" + max);
  }

  function setSilk(current, max) {
    if (max <= 0) max = 1;
    current = Math.min(current, max);
    if (current === mp && max === mpMax) return;
    fill.style.transform = "scaleX(" + (current / max) + ")";
    if (max !== mpMax) silk.style.setProperty("--silk-max", max);
    mp = current; mpMax = max;
    root.dataset.mp = current;
    root.dataset.mpMax = max;
    DXBus.setText(silkNum, current + "/" + max);
  }

  function render(state, info) {
    var p = state.player || {};
    // Only what the server says: health and silk as the state holds them (the last sample of a burst).
    var animate = !info.full;
    if (p.health != null || p.health_max != null) {
      var max = int(p.health_max, healthMax === null ? 5 : healthMax);
      setHealth(int(p.health, health === null ? max : health), max, animate);
    }
    if (p.mp != null || p.mp_max != null) {
      setSilk(int(p.mp, mp === null ? 0 : mp), int(p.mp_max, mpMax === null ? 9 : mpMax));
    }
  }

  DXBus.connect({ types: [], render: render });
})();
