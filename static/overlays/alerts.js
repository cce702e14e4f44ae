/* Alerts: shows the alert engine's `alert` events one at a time (the queue, merging and the texts,
   fight times included, are the server's; the page only shows them). */
(function () {
  "use strict";
  var S = DXBus.settings;
  var box = document.getElementById("alerts");
  var queue = [];
  var showing = null;
  var shown = 0;
  var STYLE = /^[a-z0-9_-]{1,32}$/;

  function next() {
    if (showing || !queue.length) return;
    var d = queue.shift();
    var el = document.createElement("div");
    var style = typeof d.style === "string" && STYLE.test(d.style) ? d.style : "default";
    el.className = "alert style-" + style;
    if (d.id !== undefined) el.dataset.id = String(d.id);
    var msg = document.createElement("span");
    msg.className = "message";
    msg.textContent = d.message === undefined || d.message === null ? "" : String(d.message);  // text, never HTML
    el.appendChild(msg);
    var count = Number(d.count);
    // A merge message that leads with the count ("x5 deaths") needs no second "x5" badge.
    var leads = new RegExp("^\\s*[x\u00d7]\\s*" + count + "(?![0-9])", "i").test(msg.textContent);
    if (count > 1 && !leads) {
      var c = document.createElement("span");
      c.className = "count";
      c.textContent = "\u00d7" + count;
      el.appendChild(c);
    }
    box.appendChild(el);
    shown += 1;
    box.dataset.shown = shown;
    showing = el;
    var seconds = Number(d.duration);
    var ms = (isFinite(seconds) && seconds > 0 ? seconds : S.default_duration) * 1000;
    var fade = Math.min(400 * S.motion, ms / 3);
    if (fade > 0 && el.animate) {
      el.animate([{ transform: "translateY(-40px) scale(0.8)", opacity: 0 }, { transform: "none", opacity: 1 }],
                 { duration: fade, easing: "cubic-bezier(.2,1.4,.4,1)" });
    }
    if (S.sound && d.sound) DXBus.sound.play(d.sound, (d.volume === undefined ? 1 : Number(d.volume)) * S.volume);
    setTimeout(function () {
      var finished = false;
      function done() {
        if (finished) return;
        finished = true;
        if (el.parentNode) el.parentNode.removeChild(el);
        showing = null;
        next();
      }
      if (fade > 0 && el.animate) {
        var out = el.animate([{ opacity: 1 }, { transform: "translateY(-20px)", opacity: 0 }],
                             { duration: fade, fill: "forwards" });
        out.onfinish = done;
        setTimeout(done, fade + 200);  // backup: OBS may pause animations of hidden sources
      } else {
        done();
      }
    }, Math.max(0, ms - fade));
  }

  DXBus.connect({
    types: ["alert"],
    on: {
      alert: function (d, ev) {
        // An alert missed while the page was away is shown only if it would still be on screen.
        var seconds = Number(d.duration);
        if (ev.replayed && ev.age > (isFinite(seconds) && seconds > 0 ? seconds : S.default_duration)) return;
        queue.push(d);
        while (queue.length > S.max_queue) queue.shift();
        next();
      },
    },
  });
})();
