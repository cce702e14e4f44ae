/* Alerts: shows the alert engine's `alert` events (title, message, icon, picture, sound). The queue,
   merging, texts and durations are the server's: the page shows what it is sent, for as long as the
   alert says, replaces it when the server sends the next one and takes it down on `alert_end` (the
   operator skipped it). In and out animations are the `animation_in` / `animation_out` settings. */
(function () {
  "use strict";
  var S = DXBus.settings;
  var box = document.getElementById("alerts");
  var showing = null;  // {el, id, timer}
  var shown = 0;
  var STYLE = /^[a-z0-9_-]{1,32}$/;
  var BASE_MS = 400;  // an animation's length at motion 1

  /** Keyframes of a preset ("fade", "slide", "pop"; anything else: none) going in or out. */
  function keyframes(preset, entering) {
    // Slide from the edge the overlay sits at (from above at the top, from below at the bottom).
    var dy = String(S.position || "").indexOf("bottom") === 0 ? 60 : -60;
    var frames;
    if (preset === "fade") {
      frames = [{ opacity: 0 }, { opacity: 1 }];
    } else if (preset === "slide") {
      frames = [{ opacity: 0, transform: "translateY(" + dy + "px)" }, { opacity: 1, transform: "translateY(0px)" }];
    } else if (preset === "pop") {
      if (!entering) return [{ opacity: 1, transform: "scale(1)" }, { opacity: 0, transform: "scale(0.5)" }];
      return [{ opacity: 0, transform: "scale(0.5)" }, { opacity: 1, transform: "scale(1.08)", offset: 0.7 },
              { opacity: 1, transform: "scale(1)" }];
    } else {
      return null;
    }
    return entering ? frames : frames.reverse();
  }

  /** Animate `el` with a preset; null when there is nothing to run (none, motion 0, no Web Animations). */
  function animate(el, preset, entering, ms) {
    var frames = keyframes(preset, entering);
    if (!frames || !(ms > 0) || !el.animate) return null;
    return el.animate(frames, { duration: ms, easing: entering ? "ease-out" : "ease-in",
                                fill: entering ? "backwards" : "forwards" });
  }

  /** Only our own static files (the server sends /static/alerts/icons/... and /static/user-images/...). */
  function assetPath(value) {
    var path = typeof value === "string" ? value : "";
    if (path.indexOf("/static/") !== 0 || path.indexOf("..") >= 0 || path.indexOf("\\") >= 0) return "";
    return path;
  }

  function textOf(value) {
    return value === undefined || value === null ? "" : String(value);
  }

  function picture(cls, value) {
    var path = assetPath(value);
    if (!path) return null;
    var img = document.createElement("img");
    img.className = cls;
    img.alt = "";
    img.src = DXBus.assetUrl(path);
    img.dataset.src = path;
    return img;
  }

  function build(d) {
    var el = document.createElement("div");
    var style = typeof d.style === "string" && STYLE.test(d.style) ? d.style : "default";
    el.className = "alert style-" + style;
    if (d.id !== undefined) el.dataset.id = String(d.id);
    if (typeof d.rule === "string") el.dataset.rule = d.rule;
    var image = picture("picture", d.image);
    if (image) el.appendChild(image);
    var banner = document.createElement("div");
    banner.className = "banner";
    var icon = picture("icon", d.icon);
    if (icon) banner.appendChild(icon);
    var text = document.createElement("div");
    text.className = "text";
    if (textOf(d.title)) {
      var title = document.createElement("div");
      title.className = "title";
      title.textContent = textOf(d.title);  // text, never HTML
      text.appendChild(title);
    }
    var line = document.createElement("div");
    line.className = "line";
    var msg = document.createElement("span");
    msg.className = "message";
    msg.textContent = textOf(d.message);  // text, never HTML
    line.appendChild(msg);
    var count = Number(d.count);
    // A merge message that leads with the count ("×5 deaths") needs no second "×5" badge.
    var leads = new RegExp("^\\s*[x\u00d7]\\s*" + count + "(?![0-9])", "i").test(msg.textContent);
    if (count > 1 && !leads) {
      var c = document.createElement("span");
      c.className = "count";
      c.textContent = "\u00d7" + count;
      line.appendChild(c);
    }
    text.appendChild(line);
    banner.appendChild(text);
    el.appendChild(banner);
    return el;
  }

  /** Take the alert on screen down: now (`quick`, the next one is here) or with the out animation. */
  function leave(current, quick) {
    if (showing === current) showing = null;
    clearTimeout(current.timer);
    var el = current.el;
    var finished = false;
    function done() {
      if (finished) return;
      finished = true;
      if (el.parentNode) el.parentNode.removeChild(el);
    }
    var out = quick ? null : animate(el, S.animation_out, false, current.fade);
    if (!out) { done(); return; }
    out.onfinish = done;
    setTimeout(done, current.fade + 200);  // backup: OBS may pause animations of hidden sources
  }

  function show(d, seconds) {
    if (showing) leave(showing, true);  // the server moved on: so does the page
    var el = build(d);
    var ms = seconds * 1000;
    var current = { el: el, id: d.id, fade: Math.min(BASE_MS * S.motion, ms / 3), timer: null };
    box.appendChild(el);
    shown += 1;
    box.dataset.shown = shown;
    showing = current;
    animate(el, S.animation_in, true, current.fade);
    if (S.sound && d.sound) DXBus.sound.play(d.sound, (d.volume === undefined ? 1 : Number(d.volume)) * S.volume);
    // The out animation ends with the alert's time (it starts one animation length before).
    var outMs = keyframes(S.animation_out, false) ? current.fade : 0;
    current.timer = setTimeout(function () { leave(current, false); }, Math.max(0, ms - outMs));
  }

  DXBus.connect({
    types: ["alert", "alert_end"],
    on: {
      alert: function (d, ev) {
        var seconds = Number(d.duration);
        if (!(isFinite(seconds) && seconds > 0)) seconds = S.default_duration;
        // An alert missed while the page was away is shown only for what is left of its time.
        if (ev.replayed) seconds -= Math.max(0, ev.age || 0);
        if (seconds <= 0) return;
        show(d, seconds);
      },
      alert_end: function (d) {
        if (showing && d && d.id !== undefined && String(d.id) === String(showing.id)) leave(showing, false);
      },
    },
  });
})();
