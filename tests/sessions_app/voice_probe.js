// Test only: injected by Playwright (add_init_script) before the voice page's own script.
// It measures, with the Web Audio API, the level of the audio each peer of the page
// receives, and keeps the loudest RMS seen in window.voiceProbe.maxRms; and every call state
// the page shows (#status data-state), in order, in window.voiceProbe.states.
"use strict";

(() => {
  const probe = (window.voiceProbe = { maxRms: 0, audioFrames: 0, states: [] });
  const NativePeer = window.RTCPeerConnection;

  function measure(peer, stream) {
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 2048;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      if (peer.connectionState === "closed") return context.close();
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const value of samples) sum += value * value;
      probe.maxRms = Math.max(probe.maxRms, Math.sqrt(sum / samples.length));
      probe.audioFrames += 1;
      requestAnimationFrame(tick);
    };
    tick();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const status = document.getElementById("status");
    if (!status) return;
    new MutationObserver(() => {
      const state = status.dataset.state;
      if (state && probe.states[probe.states.length - 1] !== state) probe.states.push(state);
    }).observe(status, { attributes: true, attributeFilter: ["data-state"] });
  });

  window.RTCPeerConnection = class extends NativePeer {
    constructor(...args) {
      super(...args);
      this.addEventListener("track", (event) => {
        measure(this, event.streams[0] || new MediaStream([event.track]));
      });
    }
  };
})();
