/* Infusion Monitor: alarm sounds made in the browser, after IEC 60601-1-8.
 *
 * No audio files: Web Audio oscillators play the priority patterns.
 *   high:   a burst of 10 pulses (3 + 2, pause, 3 + 2), repeated every 6 s
 *   medium: 3 pulses, repeated every 15 s
 *   low:    1 pulse, repeated every 30 s (never more often than every 15 s)
 * Browsers refuse sound until someone interacts with the page, so the screen
 * has a visible "Sound on this screen" button; until it is pressed the page
 * still knows what it would sound (infusionSound.current) and says it is off.
 */
(function () {
  "use strict";

  // Pulse start times (s) within a burst, pulse length (s), burst period (s), pitch (Hz).
  var PATTERNS = {
    high: { starts: [0, 0.25, 0.5, 1.1, 1.35, 2.5, 2.75, 3.0, 3.6, 3.85], pulse: 0.15,
            every: 6, pitch: 880 },
    medium: { starts: [0, 0.3, 0.6], pulse: 0.2, every: 15, pitch: 660 },
    low: { starts: [0], pulse: 0.25, every: 30, pitch: 523 },
  };

  var sound = {
    enabled: false,
    current: null,      // the priority this screen should be sounding, if any
    bursts: 0,          // bursts started since the page loaded (for tests)
    context: null,
    timer: null,

    toggle: function () {
      sound.enabled = !sound.enabled;
      if (sound.enabled && !sound.context) {
        var Context = window.AudioContext || window.webkitAudioContext;
        sound.context = Context ? new Context() : null;
      }
      if (sound.context && sound.enabled) sound.context.resume();
      sound.restart();
      return sound.label();
    },

    label: function () {
      return "Sound on this screen: " + (sound.enabled ? "ON" : "OFF");
    },

    set: function (priority) {
      priority = priority || null;
      if (priority === sound.current) return;
      sound.current = priority;
      sound.restart();
    },

    restart: function () {
      if (sound.timer) clearInterval(sound.timer);
      sound.timer = null;
      var pattern = PATTERNS[sound.current];
      if (!pattern) return;
      sound.burst(pattern);
      sound.timer = setInterval(function () { sound.burst(pattern); }, pattern.every * 1000);
    },

    burst: function (pattern) {
      sound.bursts += 1;
      if (!sound.enabled || !sound.context) return;
      var ctx = sound.context, t0 = ctx.currentTime + 0.05;
      pattern.starts.forEach(function (start) {
        var osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.frequency.value = pattern.pitch;
        osc.type = "square";
        gain.gain.setValueAtTime(0.0001, t0 + start);
        gain.gain.exponentialRampToValueAtTime(0.2, t0 + start + 0.02);
        gain.gain.setValueAtTime(0.2, t0 + start + pattern.pulse - 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t0 + start + pattern.pulse);
        osc.connect(gain).connect(ctx.destination);
        osc.start(t0 + start);
        osc.stop(t0 + start + pattern.pulse + 0.01);
      });
    },
  };

  window.infusionSound = sound;
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    sound: {
      toggle: function (clicks) {
        if (!clicks) return sound.label();
        return sound.toggle();
      },
    },
  });
})();
