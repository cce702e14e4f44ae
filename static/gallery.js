/* gallery.js: builds each overlay card's settings form from its manifest, keeps the OBS URL and the
   live preview in step with the form, and unlocks preview sound on a click.

   The form never builds a URL from what was typed: it asks the server what the overlay would use
   (GET /api/overlays/<name>/resolve, overlays/settings.py, the one implementation of the rules), shows
   those values (clamped, rounded or the default) with the reason next to the field, and copies the
   server's canonical query into the URL. So every URL the card offers opens exactly what the form shows. */
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
      // A text field (not type=number, which silently empties what it cannot read): what was typed
      // stays visible until the server's value replaces it, with the reason beside it.
      input = document.createElement("input");
      input.type = "text";
      input.inputMode = spec.type === "int" ? "numeric" : "decimal";
      input.className = "number";
      var range = [];
      if (spec.min !== null) range.push("min " + spec.min);
      if (spec.max !== null) range.push("max " + spec.max);
      if (spec.step) range.push("step " + spec.step);
      input.placeholder = range.join(", ");
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
    var note = document.createElement("small");
    note.className = "note";
    note.setAttribute("aria-live", "polite");
    var wrap = document.createElement("div");
    wrap.className = "field-wrap";
    wrap.appendChild(label);
    wrap.appendChild(note);

    var api = {
      spec: spec,
      set: function (value) {
        if (spec.type === "bool") input.checked = !!value;
        else if (spec.type === "color") {
          input.value = value.slice(0, 7);
          alpha.value = value.length === 9 ? Math.round(parseInt(value.slice(7), 16) / 2.55) : 100;
        } else input.value = value;
      },
      /** What the field holds, as the query string would carry it (unchecked: the server decides). */
      raw: function () {
        if (spec.type === "bool") return input.checked ? "1" : "0";
        if (spec.type === "color") {
          var a = alpha.value.trim() === "" ? 100 : Math.round(Number(alpha.value));
          if (!isFinite(a)) a = 100;
          a = Math.max(0, Math.min(100, a));
          return a >= 100 ? input.value : input.value + Math.round(a * 2.55).toString(16).padStart(2, "0");
        }
        return input.value;
      },
      /** Whether the user is typing in this field (its value is not replaced under the cursor). */
      editing: function () { return document.activeElement === input || document.activeElement === alpha; },
      /** Show why the overlay uses another value than the one typed ("" clears it). */
      note: function (text) {
        note.textContent = text || "";
        wrap.classList.toggle("adjusted", !!text);
      },
      element: wrap,
      touched: false,
    };
    function edited(committed) { api.touched = true; onChange(committed); }
    input.addEventListener("input", function () { edited(false); });
    input.addEventListener("change", function () { edited(true); });
    if (alpha) {
      alpha.addEventListener("input", function () { edited(false); });
      alpha.addEventListener("change", function () { edited(true); });
    }
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

    var asked = 0;        // requests sent; only the newest answer is applied
    var canonical = "";   // the server's query for the current form: the URL's settings part

    function url(extra) {
      var q = new URLSearchParams(canonical);
      if (extra) q.set("preview", "1");  // previews also show test events; the OBS URL never does
      withToken(q);
      var text = q.toString();
      return window.location.origin + overlay.url + (text ? "?" + text : "");
    }
    function previewUrl() { return url(true); }

    /** Ask the server what the overlay makes of the form; show its values, reasons and URL. */
    function update(committed) {
      var raw = new URLSearchParams();
      fields.forEach(function (f) { raw.set(f.spec.name, f.raw()); });
      var mine = ++asked;
      el.dataset.resolving = "1";
      fetch("/api/overlays/" + encodeURIComponent(overlay.name) + "/resolve?" + withToken(raw).toString())
        .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status)); })
        .then(function (answer) {
          if (mine !== asked) return;  // a newer edit is on its way
          canonical = answer.query;
          fields.forEach(function (f) {
            var name = f.spec.name;
            // A reason stays beside its field until that field is edited again (the corrected value,
            // sent back with the next edit elsewhere, needs no correction any more).
            if (answer.notes[name]) f.note(answer.notes[name]);
            else if (f.touched) f.note("");
            f.touched = false;
            // While typing, the field keeps the keystrokes; when the edit is done, it shows the value used.
            if (committed || !f.editing()) f.set(answer.values[name]);
          });
          urlInput.value = url(false);
          showSize(answer.size);
          el.dataset.resolving = "";
          clearTimeout(timer);
          timer = setTimeout(function () { var u = previewUrl(); if (iframe.src !== u) iframe.src = u; }, 250);
        })
        .catch(function (err) { el.dataset.resolving = ""; console.warn("settings check failed", err); });
    }

    // The recommended size follows the settings (overlays/sizing.py); a smaller source cuts content.
    var sizeEl = el.querySelector(".size");
    var srcW = el.querySelector("input.src-w");
    var srcH = el.querySelector("input.src-h");
    var fitNote = el.querySelector(".fit-note");
    var recommended = { width: overlay.width, height: overlay.height, basis: overlay.size_basis };
    function showSize(size) {
      if (!size) return;
      recommended = size;
      var b = sizeEl.querySelectorAll("b");
      b[0].textContent = size.width;
      b[1].textContent = size.height;
      sizeEl.title = "fits " + size.basis;
      srcW.placeholder = size.width;
      srcH.placeholder = size.height;
      if (overlay.width !== size.width || overlay.height !== size.height) {
        overlay.width = size.width;
        overlay.height = size.height;
        iframe.width = size.width;
        iframe.height = size.height;
        preview.style.setProperty("--w", size.width);
        preview.style.setProperty("--h", size.height);
        fit();
      }
      checkFit();
    }
    /** Warn when the source size the user has (or typed) cuts the overlay's largest content. */
    function checkFit() {
      var w = parseInt(srcW.value, 10), h = parseInt(srcH.value, 10);
      var cut = [];
      if (isFinite(w) && w < recommended.width) cut.push((recommended.width - w) + " px too narrow");
      if (isFinite(h) && h < recommended.height) cut.push((recommended.height - h) + " px too low");
      fitNote.textContent = cut.length ? "cuts content: " + cut.join(", ") + " (fits " + recommended.basis +
        " at " + recommended.width + " × " + recommended.height + ")" : "";
      el.classList.toggle("cut", cut.length > 0);
    }
    srcW.addEventListener("input", checkFit);
    srcH.addEventListener("input", checkFit);

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
      fields.forEach(function (f) { f.set(f.spec.default); f.note(""); });
      update(true);
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
    urlInput.value = url(false);
    iframe.src = previewUrl();
    update(true);  // the server's size for the defaults (and anything the browser restored)
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
