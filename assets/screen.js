/* Infusion Monitor: keeps the chair tiles current from the server's deltas.
 *
 * The server sends, each second, each chair's clock and state and only what
 * changed (monitor/web/screen.py). This file keeps a model per chair and
 * redraws the numbers, their ages, the NO DATA / DISCONNECTED state, the
 * infusion phase, the alarm strip and the tile's priority, addressing
 * elements by data-testid. Ages are drawn from the chair's own clock, so a
 * simulator at 600x shows session seconds, not wall seconds.
 */
(function () {
  "use strict";

  var EPISODIC = { nibp_sys: true, nibp_dia: true, nibp_mean: true };
  var PRIORITY_RANK = { none: 0, low: 1, medium: 2, high: 3 };
  var LABELS = { hr: "HR", pulse_rate: "PR" };

  function byTestId(root, id) {
    return root.querySelector('[data-testid="' + id + '"]');
  }

  // Chair names come from the clinic's configuration: quote them as data.
  function attr(text) {
    return String(text).replace(/&/g, "&amp;").replace(/"/g, "&quot;")
      .replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function formatAge(seconds) {
    seconds = Math.max(0, seconds);
    if (seconds < 120) return Math.round(seconds) + " s";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 120) return minutes + " min";
    var m = minutes % 60;
    return Math.floor(minutes / 60) + " h " + (m < 10 ? "0" : "") + m + " min";
  }

  function formatClock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60),
      s = seconds % 60;
    var mm = (m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    return h ? h + ":" + mm + ":" + ss : m + ":" + ss;
  }

  function phaseText(phase, now) {
    if (!phase || phase.phase === "pre") return "before infusion";
    var infused = phase.infusion_start !== null ? now - phase.infusion_start : 0;
    if (phase.phase === "infusion") return "INFUSION " + formatClock(infused);
    if (phase.phase === "paused") return "INFUSION PAUSED " + formatClock(now - phase.since);
    return "after infusion " + formatClock(now - phase.since);
  }

  // No answer from the server for this long (ms) and the screen says so,
  // rather than go on showing numbers whose ages have stopped moving.
  var LOST_AFTER_MS = 4000;

  var screen = {
    model: {},
    staleAfter: 10,
    storeStatus: { ok: true },
    lastDelta: Date.now(),
    lost: false,
    signedOut: false,

    apply: function (delta) {
      if (!delta || !delta.chairs) return;
      screen.lastDelta = Date.now();
      if (screen.lost) {
        screen.lost = false;
        document.body.classList.remove("connection-lost");
      }
      if (delta.store) screen.storeStatus = delta.store;
      if (delta.stale_after) screen.staleAfter = delta.stale_after;
      if (delta.full) screen.model = {};
      Object.keys(delta.chairs).forEach(function (chair) {
        var change = delta.chairs[chair];
        var model = screen.model[chair];
        if (!model || model.session !== change.session) {
          model = screen.model[chair] = { session: change.session, numerics: {},
                                          alarms: [], phase: null, status: {} };
        }
        if (change.numerics) {
          Object.keys(change.numerics).forEach(function (p) {
            model.numerics[p] = change.numerics[p];
          });
        }
        if (change.alarms) model.alarms = change.alarms;
        if (change.phase) model.phase = change.phase;
        if (change.status) model.status = change.status;
        screen.draw(chair);
        // A redrawn page may render its new tiles just after this call.
        if (delta.full) setTimeout(function () { screen.draw(chair); }, 50);
      });
      screen.drawBanner();
      if (window.infusionSound) window.infusionSound.set(screen.loudest());
    },

    loudest: function () {
      var best = null;
      Object.keys(screen.model).forEach(function (chair) {
        var s = screen.model[chair].status.sound;
        if (s && (!best || PRIORITY_RANK[s] > PRIORITY_RANK[best])) best = s;
      });
      return best;
    },

    draw: function (chair) {
      var model = screen.model[chair];
      var tile = document.querySelector('[data-testid="chair-' + chair + '"]');
      if (!tile) return;
      var status = model.status, now = status.now;
      var silent = status.silent_s !== null && status.silent_s !== undefined;
      tile.setAttribute("data-alarm-priority", status.priority || "none");
      tile.classList.toggle("flash", !!status.unacknowledged);
      tile.classList.toggle("silent", silent || !!status.disconnected);
      tile.classList.toggle("ended", status.open === false);

      var state = byTestId(tile, "state-" + chair);
      if (state) {
        var text = status.disconnected ? "DISCONNECTED"
          : silent ? "NO DATA " + formatAge(status.silent_s)
          : status.open === false ? "SESSION ENDED" : "";
        state.textContent = text;
        state.classList.toggle("hidden", !text);
      }
      var phase = byTestId(tile, "phase-" + chair);
      if (phase) phase.textContent = phaseText(model.phase, now);

      screen.drawRate(tile, chair, model);
      // A silent or disconnected chair shows no number as current.
      var gone = silent || !!status.disconnected;
      tile.querySelectorAll('[data-testid^="value-' + chair + '-"]').forEach(function (el) {
        var param = el.getAttribute("data-testid").slice(("value-" + chair + "-").length);
        screen.drawValue(tile, chair, param, el, model, gone);
      });
      var etco2 = tile.querySelector('[data-cell="etco2"]');
      if (etco2) etco2.classList.toggle("hidden", !model.numerics.etco2);
      screen.drawAlarms(tile, chair, model, now);
    },

    /* HR when the chair has it, else the oximeter's pulse rate. */
    drawRate: function (tile, chair, model) {
      var cell = tile.querySelector('[data-cell="rate"]');
      if (!cell) return;
      var value = cell.querySelector(".value"), age = cell.querySelector(".age");
      var want = model.numerics.hr ? "hr" : model.numerics.pulse_rate ? "pulse_rate" : null;
      if (!want) return;
      value.setAttribute("data-testid", "value-" + chair + "-" + want);
      age.setAttribute("data-testid", "age-" + chair + "-" + want);
      cell.querySelector(".label").textContent = LABELS[want];
    },

    drawValue: function (tile, chair, param, el, model, silent) {
      var n = model.numerics[param];
      var cell = el.closest(".numeric");
      var age = byTestId(tile, "age-" + chair + "-" + param);
      if (!n) {
        el.textContent = "---";
        if (age) age.textContent = "";
        return;
      }
      var seconds = model.status.now - n[1];
      var stale = silent || (!EPISODIC[param] && seconds > screen.staleAfter);
      // Never an old value as if it were current: a stale one is not shown.
      el.textContent = stale ? "---" : n[0];
      el.classList.toggle("stale", stale);
      el.setAttribute("data-status", n[2]);
      if (age) age.textContent = formatAge(seconds);
      if (cell) {
        var flag = cell.querySelector(".flag");
        if (flag && age && cell.querySelector(".age") === age) {
          flag.textContent = stale ? "no data" : n[2] === "questionable" ? "?"
            : n[2] === "invalid" ? "invalid" : "";
        }
        cell.classList.toggle("stale", stale);
      }
    },

    drawAlarms: function (tile, chair, model, now) {
      var list = byTestId(tile, "alarms-" + chair);
      if (!list) return;
      var html = model.alarms.map(function (a) {
        var state = a.state === "active" ? "" : " (" + a.state + ")";
        return '<li class="alarm alarm-' + a.priority + " alarm-" + a.state +
          '" data-testid="alarm-' + attr(chair) + "-" + a.n + '" data-priority="' + a.priority +
          '" data-state="' + a.state + '"><span class="alarm-priority">' +
          a.priority.toUpperCase() + '</span><span class="alarm-message"></span>' +
          '<span class="alarm-age">' + formatAge(now - a.onset) + state + "</span></li>";
      }).join("");
      if (list.getAttribute("data-html") !== html) {
        list.innerHTML = html;
        list.setAttribute("data-html", html);
        // Messages as text, never as markup: they quote device and user input.
        var items = list.querySelectorAll(".alarm-message");
        model.alarms.forEach(function (a, i) { items[i].textContent = a.message; });
      }
    },

    checkConnection: function () {
      var lost = Date.now() - screen.lastDelta > LOST_AFTER_MS;
      if (lost && !screen.signedOut) {
        // The server may be up but this browser signed out (account changed,
        // shift over): then reconnecting will not help; signing in will.
        fetch("/auth/status", { credentials: "same-origin", cache: "no-store" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (s) {
            if (s && s.required && !s.signed_in && !screen.signedOut) {
              screen.signedOut = true;
              screen.drawBanner();
            }
          })
          .catch(function () { /* the server is down: the lost banner says it */ });
      }
      if (lost === screen.lost) return;
      screen.lost = lost;
      if (!lost) screen.signedOut = false;
      document.body.classList.toggle("connection-lost", lost);
      screen.drawBanner();
    },

    drawBanner: function () {
      var banner = document.getElementById("safety-banner");
      if (!banner) return;
      var notes = [];
      if (screen.lost && screen.signedOut) {
        notes.push("SIGNED OUT: the numbers below are not current; reload the page " +
                   "to sign in");
      } else if (screen.lost) {
        notes.push("NO CONNECTION TO THE SERVER: the numbers below are not current; " +
                   "reconnecting");
      }
      var st = screen.storeStatus;
      if (st && st.ok === false) {
        var since = st.since ? new Date(st.since * 1000).toLocaleTimeString() : "?";
        notes.push("STORE NOT WRITING since " + since + ": " + (st.held || 0) +
                   " readings held in memory" + (st.dropped ? ", " + st.dropped + " lost" : "") +
                   " (" + (st.error || "unknown error") + ")");
      }
      Object.keys(screen.model).sort().forEach(function (chair) {
        var s = screen.model[chair].status;
        if (s.paused_s > 0) notes.push("Chair " + chair + ": sound paused " +
                                       formatClock(s.paused_s));
        (s.alarms_off || []).forEach(function (p) {
          notes.push("Chair " + chair + ": " + p + " alarms OFF");
        });
      });
      banner.textContent = notes.join("  \u00b7  ");
      banner.classList.toggle("hidden", notes.length === 0);
    },
  };

  window.infusionScreen = screen;
  setInterval(screen.checkConnection, 1000);
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    screen: {
      apply: function (delta) {
        screen.apply(delta);
        return window.dash_clientside.no_update;
      },
    },
  });
})();
