/* gallery.js: builds each overlay card's settings form from its manifest, keeps the OBS URL and the
   live preview in step with the form, and unlocks preview sound on a click. */
(function () {
  "use strict";
  var catalog = JSON.parse(document.getElementById("dx-catalog").textContent || "[]");
  var token = JSON.parse(document.getElementById("dx-token").textContent || '""');
  var byName = {};
  catalog.forEach(function (o) { byName[o.name] = o; });

  function withToken(params) {
    if (token) params.set("token", token);
    return params;
  }

  function field(spec, onChange) {
    var label = document.createElement("label");
    label.className = "field";
    label.title = spec.help || "";
    var text = document.createElement("span");
    text.textContent = spec.label || spec.name;
    label.appendChild(text);
    var input, alpha = null;
    if (spec.type === "bool") {
      input = document.createElement("input");
      input.type = "checkbox";
    } else if (spec.type === "choice") {
      input = document.createElement("select");
      spec.choices.forEach(function (c) {
        var opt = document.createElement("option");
        opt.value = c;
        opt.textContent = c;
        input.appendChild(opt);
      });
    } else if (spec.type === "int" || spec.type === "float") {
      input = document.createElement("input");
      input.type = "number";
      if (spec.min !== null) input.min = spec.min;
      if (spec.max !== null) input.max = spec.max;
      input.step = spec.step || (spec.type === "int" ? 1 : "any");
    } else if (spec.type === "color") {
      input = document.createElement("input");
      input.type = "color";
      alpha = document.createElement("input");
      alpha.type = "number";
      alpha.className = "alpha";
      alpha.min = 0;
      alpha.max = 100;
      alpha.title = "opacity %";
    } else {
      input = document.createElement("input");
      input.type = "text";
      input.maxLength = spec.max_length || 80;
    }
    input.name = spec.name;
    label.appendChild(input);
    if (alpha) label.appendChild(alpha);

    var api = {
      spec: spec,
      set: function (value) {
        if (spec.type === "bool") input.checked = !!value;
        else if (spec.type === "color") {
          input.value = value.slice(0, 7);
          alpha.value = value.length === 9 ? Math.round(parseInt(value.slice(7), 16) / 2.55) : 100;
        } else input.value = value;
      },
      get: function () {
        if (spec.type === "bool") return input.checked;
        if (spec.type === "color") {
          var a = Math.max(0, Math.min(100, Number(alpha.value)));
          return a >= 100 ? input.value : input.value + Math.round(a * 2.55).toString(16).padStart(2, "0");
        }
        if (spec.type === "int" || spec.type === "float") return Number(input.value);
        return input.value;
      },
      element: label,
    };
    input.addEventListener("input", onChange);
    if (alpha) alpha.addEventListener("input", onChange);
    api.set(spec.default);
    return api;
  }

  function card(el) {
    var overlay = byName[el.dataset.name];
    if (!overlay) return;
    var form = el.querySelector("form.settings");
    var urlInput = el.querySelector("input.url");
    var iframe = el.querySelector("iframe");
    var preview = el.querySelector(".preview");
    var fields = [];
    var timer = null;

    function query() {
      var params = new URLSearchParams();
      fields.forEach(function (f) {
        var value = f.get();
        if (value !== f.spec.default && String(value) !== String(f.spec.default)) {
          // Valid or not, what the user typed goes in: the page falls back and says so in its console.
          params.set(f.spec.name, f.spec.type === "bool" ? (value ? "1" : "0") : String(value));
        }
      });
      return withToken(params);
    }
    // The preview also shows test events (?preview=1); the OBS URL does not, so a test never shows on stream.
    function previewUrl() {
      var q = query();
      q.set("preview", "1");
      return window.location.origin + overlay.url + "?" + q.toString();
    }
    function update() {
      var q = query().toString();
      urlInput.value = window.location.origin + overlay.url + (q ? "?" + q : "");
      clearTimeout(timer);
      timer = setTimeout(function () { var url = previewUrl(); if (iframe.src !== url) iframe.src = url; }, 250);
    }

    var groups = {};
    overlay.settings.forEach(function (spec) {
      var f = field(spec, update);
      fields.push(f);
      var name = spec.group || "General";
      if (!groups[name]) {
        groups[name] = document.createElement("fieldset");
        var legend = document.createElement("legend");
        legend.textContent = name;
        groups[name].appendChild(legend);
        form.appendChild(groups[name]);
      }
      groups[name].appendChild(f.element);
    });

    el.querySelector("button.copy").addEventListener("click", function () {
      urlInput.select();
      if (navigator.clipboard) navigator.clipboard.writeText(urlInput.value).catch(function () {});
      else document.execCommand("copy");
    });
    el.querySelector("button.reset").addEventListener("click", function () {
      fields.forEach(function (f) { f.set(f.spec.default); });
      update();
    });
    var test = el.querySelector("button.test");
    if (test) {
      test.addEventListener("click", function () {
        var q = withToken(new URLSearchParams()).toString();
        fetch("/api/overlays/" + encodeURIComponent(overlay.name) + "/test" + (q ? "?" + q : ""), { method: "POST" })
          .catch(function (err) { console.warn("test events failed", err); });
      });
    }
    // The alerts card also fires a test alert through the server's (test) queue (alerts/routes.py).
    var alertTest = el.querySelector("button.alert-test");
    if (alertTest) {
      alertTest.addEventListener("click", function () {
        var q = withToken(new URLSearchParams()).toString();
        fetch("/api/alerts/test" + (q ? "?" + q : ""), {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ rule: "boss_defeated" }),
        }).catch(function (err) { console.warn("test alert failed", err); });
      });
    }

    // The iframe renders at the overlay's real size and is scaled down to fit the card.
    function fit() {
      var scale = Math.min(preview.clientWidth / overlay.width, preview.clientHeight / overlay.height);
      iframe.style.transform = "scale(" + scale + ")";
    }
    if (window.ResizeObserver) new ResizeObserver(fit).observe(preview);
    fit();
    update();
    iframe.src = previewUrl();
  }

  document.querySelectorAll("article.card").forEach(card);

  // Browsers allow sound only after a click on the page; any click here unlocks every preview.
  var unmute = document.getElementById("unmute");
  var unlocked = false;
  function unlock(frame) {
    if (frame.contentWindow) frame.contentWindow.postMessage("dx-unmute", window.location.origin);
  }
  document.querySelectorAll("iframe").forEach(function (f) {
    f.addEventListener("load", function () { if (unlocked) unlock(f); });  // previews loaded later
  });
  document.addEventListener("click", function () {
    unlocked = true;
    document.querySelectorAll("iframe").forEach(unlock);
    unmute.classList.add("on");
    unmute.textContent = "Sound enabled in the previews";
  });
})();
