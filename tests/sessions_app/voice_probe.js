// Test only: injected by Playwright (add_init_script) before the voice page's own script.
// It measures, with the Web Audio API, the level of the audio each peer of the page
// receives, and keeps the loudest RMS seen in window.voiceProbe.maxRms; every call state
// the page shows (#status data-state), in order, in window.voiceProbe.states; every text the
// assistant's line in progress showed (.partial), in partials; the hints shown (hints);
// each getUserMedia call (gumCalls), the streams it gave (micStreams) and the page's peers.
"use strict";

(() => {
  const probe = (window.voiceProbe = {
    maxRms: 0, audioFrames: 0, states: [], partials: [], hints: [], gumCalls: 0, micStreams: [],
    peers: [],
  });
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

  if (navigator.mediaDevices) {
    const native = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (...args) => {
      probe.gumCalls += 1;
      const stream = await native(...args);
      probe.micStreams.push(stream);
      return stream;
    };
  }

  document.addEventListener("DOMContentLoaded", () => {
    const status = document.getElementById("status");
    if (!status) return;
    new MutationObserver(() => {
      const state = status.dataset.state;
      if (state && probe.states[probe.states.length - 1] !== state) probe.states.push(state);
    }).observe(status, { attributes: true, attributeFilter: ["data-state"] });
    const hint = document.getElementById("hint");
    new MutationObserver(() => {
      if (hint.textContent) probe.hints.push(hint.textContent);
    }).observe(hint, { childList: true, characterData: true, subtree: true });
    const transcript = document.getElementById("transcript");
    new MutationObserver(() => {
      const partial = transcript.querySelector("li.assistant.partial .words");
      const text = partial ? partial.textContent : "";
      if (text && probe.partials[probe.partials.length - 1] !== text) probe.partials.push(text);
    }).observe(transcript, { childList: true, subtree: true, characterData: true });
  });

  window.RTCPeerConnection = class extends NativePeer {
    constructor(...args) {
      super(...args);
      probe.peers.push(this);
      this.addEventListener("track", (event) => {
        measure(this, event.streams[0] || new MediaStream([event.track]));
      });
    }
  };
})();
