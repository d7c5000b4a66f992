// The voice page: check access, start a session, make the WebRTC call, show the call.
// Plain JavaScript, no build step. The page hands this script its URLs, the session's media
// path and the control plane's ICE policy (#voice-config).
// - Before the microphone is asked for, the preflight route says whether this caller may
//   start the target now, and if not why and whom to ask (#access).
// - media "relay": the peer is the control plane's own; its "events" data channel carries
//   session events out (session.*, speech.*, turn.*, transcript.delta, response.*,
//   playback.*, tool.*, error) and takes input_text / end. The assistant's words and a
//   response's end come as its audio plays, between playback.started and playback.stopped.
// - media "direct": the peer is the provider's; the same session events come from the control
//   plane's event stream (what it recorded, never the provider's own data channel), and the
//   call ends through the end route.
// The call's state follows the audio: listening (the caller's turn), thinking (the turn
// ended, or a tool runs, and no answer is heard yet), speaking (the answer plays). Each
// state shown is appended to #status's data-history.
"use strict";

(() => {
  const config = JSON.parse(document.getElementById("voice-config").textContent);
  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $("status"), error: $("error"), sessionId: $("session-id"), start: $("start"),
    end: $("end"), replay: $("replay"), form: $("text-form"), text: $("text"), send: $("send"),
    audio: $("remote-audio"), transcript: $("transcript"), tools: $("tools"), hint: $("hint"),
    access: $("access"), accessReason: $("access-reason"), accessHint: $("access-hint"),
    accessLink: $("access-link"), recheck: $("recheck"), micSelect: $("mic-select"),
    mute: $("mute"), level: $("mic-level"),
  };
  const STATUS_TEXT = {
    idle: "Ready", checking: "Checking access…", blocked: "Not available yet",
    starting: "Starting…", connecting: "Connecting…", listening: "Listening",
    thinking: "Thinking…", speaking: "Speaking", ended: "Call ended", failed: "Call failed",
  };
  const EXAMPLE = "Say something, for example “where is my order 1042?”";
  const SILENCE_HINT_MS = 10000; // listening with nothing heard this long: a hint
  const NO_ANSWER_MS = 25000; // thinking this long with no event: stop claiming it
  const LONG_JSON = 240; // characters: longer arguments or results start collapsed
  let call = null;
  let muted = false;
  // The lists' "nothing yet" lines, put back when a new call starts on the same page.
  const placeholders = [ui.transcript, ui.tools].map((list) => [list, list.innerHTML]);

  // One of the page's per-session URLs, with this session's id filled in.
  const sessionUrl = (url, sessionId) =>
    url.replace(config.session_id_slot, encodeURIComponent(sessionId));
  const workflowUrl = (workflowId) =>
    config.workflow_url.replace(config.workflow_id_slot, encodeURIComponent(workflowId));

  function setStatus(state, detail) {
    ui.status.className = `status status-${state}`;
    ui.status.textContent = STATUS_TEXT[state] + (detail ? ` · ${detail}` : "");
    if (ui.status.dataset.state !== state) {
      const history = ui.status.dataset.history;
      ui.status.dataset.history = history ? `${history} ${state}` : state;
    }
    ui.status.dataset.state = state;
  }

  function showError(message) {
    ui.error.textContent = message;
    ui.error.hidden = !message;
  }

  function showHint(message) {
    ui.hint.textContent = message || "";
    ui.hint.hidden = !message;
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function errorText(response) {
    let body = {};
    try { body = await response.json(); } catch { /* not JSON */ }
    const message = body.message || body.error || `HTTP ${response.status}`;
    if (response.status === 401) return "You are not logged in any more. Reload the page and log in.";
    if (body.error === "agent_pending_approval") {
      return "This session is waiting for an admin to approve its tags (see Approvals).";
    }
    if (body.error === "target_tags_rejected") return "An admin rejected this session's tags.";
    if (body.error === "no_policy_matched" || body.error === "access_denied") {
      return `Access denied: ${message}.`;
    }
    if (response.status === 502) return `The voice provider failed: ${message}`;
    return message;
  }

  // --- the access check, before the microphone -------------------------------------------

  function showAccess(reason, hint, link) {
    ui.accessReason.textContent = reason;
    ui.accessHint.textContent = hint || "";
    ui.accessHint.hidden = !hint;
    ui.accessLink.hidden = !link;
    if (link) ui.accessLink.href = link; else ui.accessLink.removeAttribute("href");
    ui.access.hidden = false;
  }

  // True if the caller may start the target now; otherwise the page says why.
  async function preflight() {
    let response;
    try {
      response = await fetch(config.preflight_url, { credentials: "same-origin" });
    } catch {
      showAccess("The control plane could not be reached.", "Check your connection and try again.");
      return false;
    }
    if (response.status === 404) {
      showAccess("Access denied: this session is not open to you (any more).",
        "Ask an admin for an access policy that lets your caller tags start it.");
      return false;
    }
    if (!response.ok) {
      showAccess(await errorText(response), "");
      return false;
    }
    const check = await response.json();
    if (check.startable) {
      ui.access.hidden = true;
      return true;
    }
    const reason = check.reason === "tags_pending"
      ? `This session's tags wait for approval: ${check.pending_tags.join(", ")}.`
      : `This session cannot be started now: ${check.message}.`;
    ui.access.dataset.reason = check.reason;
    showAccess(reason, check.hint, check.approvals_url);
    return false;
  }

  async function checkAccess() {
    if (call && !call.done) return;
    ui.start.disabled = true;
    setStatus("checking");
    const ok = await preflight();
    setStatus(ok ? "idle" : "blocked");
    ui.start.disabled = !ok;
    if (ok && !call) showHint(`Press Start call, then talk. ${EXAMPLE}.`);
    else if (!ok) showHint("");
  }

  // --- the transcript and the tool calls -------------------------------------------------

  function clearPlaceholder(list) {
    const placeholder = list.querySelector(".empty-line");
    if (placeholder) placeholder.remove();
  }

  function addLine(role, text, extra) {
    clearPlaceholder(ui.transcript);
    const item = document.createElement("li");
    item.className = role;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "user" ? "You" : "Assistant";
    const words = document.createElement("span");
    words.className = "words";
    words.textContent = text;
    item.append(who, words);
    if (extra) {
      const note = document.createElement("span");
      note.className = "muted small";
      note.textContent = ` ${extra}`;
      item.append(note);
    }
    ui.transcript.append(item);
    item.scrollIntoView({ block: "nearest" });
    return item;
  }

  // Words as they are spoken: each delta appended to the answer's line.
  function assistantDelta(text) {
    if (!call.partial) {
      call.partial = addLine("assistant", "");
      call.partial.classList.add("partial");
    }
    call.partial.querySelector(".words").textContent += text;
  }

  function assistantFinal(text) {
    if (call.partial) {
      call.partial.querySelector(".words").textContent = text;
      call.partial.classList.remove("partial");
      call.partial = null;
    } else {
      addLine("assistant", text);
    }
  }

  function pretty(value) {
    if (typeof value === "string") return value;
    try { return JSON.stringify(value, null, 2); } catch { return String(value); }
  }

  // A collapsible block: open when short, collapsed when long.
  function toolPart(row, kind, label, value) {
    let part = row.querySelector(`.tool-part.${kind}`);
    if (!part) {
      part = document.createElement("details");
      part.className = `tool-part ${kind}`;
      part.append(document.createElement("summary"), document.createElement("pre"));
      row.append(part);
    }
    const text = pretty(value);
    const long = text.length > LONG_JSON || text.split("\n").length > 12;
    part.querySelector("summary").textContent = long ? `${label} (${text.length} characters)` : label;
    part.querySelector("pre").textContent = text;
    part.open = !long;
  }

  function toolRow(data) {
    const key = data.execution_id || data.call_id || data.tool;
    let row = ui.tools.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (!row) {
      clearPlaceholder(ui.tools);
      row = document.createElement("li");
      row.dataset.key = key;
      const head = document.createElement("div");
      head.className = "tool-head";
      const name = document.createElement("code");
      name.className = "name";
      name.textContent = data.by === "handler" ? `${data.tool} (handler)` : data.tool;
      const state = document.createElement("span");
      state.className = "pill state";
      head.append(name, state);
      row.append(head);
      ui.tools.append(row);
    }
    return row;
  }

  function toolLink(row, data) {
    if (!data.execution_id) return;
    row.dataset.execution = data.execution_id;
    let link = row.querySelector(".tool-link");
    if (!link) {
      link = document.createElement("a");
      link.className = "tool-link";
      row.querySelector(".tool-head").append(link);
    }
    link.textContent = `execution ${data.execution_id}`;
    // its workflow page once the result names it; until then the call's replay
    link.href = data.workflow_id ? workflowUrl(data.workflow_id)
      : sessionUrl(config.replay_url, call.session.session_id);
  }

  function showTool(type, data) {
    const row = toolRow(data);
    const state = row.querySelector(".state");
    const status = type === "tool.call" ? "running" : data.status;
    state.textContent = status;
    state.className = `pill state status-${status}`;
    if (type === "tool.call" || !row.querySelector(".tool-part.arguments")) {
      toolPart(row, "arguments", "Arguments", data.arguments || {});
    }
    if (type === "tool.result") {
      if (data.result !== undefined) toolPart(row, "result", "Result", data.result);
      else if (data.error) toolPart(row, "result error", "Error", data.error);
    }
    toolLink(row, data);
  }

  // --- the call's state, from what is heard ----------------------------------------------

  function updateState() {
    if (!call || call.done || !call.active) return;
    let state = "listening";
    let detail = "";
    if (call.playing) {
      state = "speaking";
    } else if (call.userSpeaking) {
      detail = "hearing you";
    } else if (call.awaiting || call.tools.size) {
      state = "thinking";
      if (call.tools.size) detail = `${[...call.tools.values()][0]} runs`;
    }
    setStatus(state, detail);
    armTimers(state);
  }

  // A hint when nothing happens: silence while listening, no answer while thinking.
  function armTimers(state) {
    clearTimeout(call.quietTimer);
    if (state === "listening") {
      call.quietTimer = setTimeout(() => {
        if (muted) showHint("You are muted: press Unmute to talk.");
        else showHint(`Nothing heard yet. ${EXAMPLE}; the level meter moves when the microphone hears you.`);
      }, SILENCE_HINT_MS);
    } else if (state === "thinking") {
      call.quietTimer = setTimeout(() => {
        call.awaiting = false;
        call.tools.clear();
        updateState();
        showHint("No answer came. Say it again, or end the call and look at its replay.");
      }, NO_ANSWER_MS);
    }
  }

  function onEvent(event) {
    const handlers = {
      "session.active": () => {
        call.active = true;
        showHint(`You are connected. ${EXAMPLE}.`);
      },
      "speech.started": () => { call.userSpeaking = true; showHint(""); },
      "speech.stopped": () => { call.userSpeaking = false; call.awaiting = true; },
      "turn.user": () => {
        addLine("user", event.text, event.modality === "text" ? "(typed)" : "");
        call.awaiting = true;
        showHint("");
      },
      "transcript.delta": () => assistantDelta(event.text),
      "turn.assistant": () => assistantFinal(event.text),
      "playback.started": () => { call.playing = true; call.awaiting = false; },
      "playback.stopped": () => { call.playing = false; },
      "tool.call": () => {
        call.tools.set(event.execution_id || event.call_id || event.tool, event.tool);
        showTool("tool.call", event);
      },
      "tool.result": () => {
        call.tools.delete(event.execution_id || event.call_id || event.tool);
        showTool("tool.result", event);
      },
      "error": () => showError(`Provider error: ${event.message || event.code}`),
      "session.ended": () => finish("ended", event.reason),
      "session.failed": () => finish("failed", event.reason),
      "session.expired": () => finish("failed", event.reason || "expired"),
    };
    (handlers[event.type] || (() => {}))();
    updateState();
  }

  // A message of ``from``'s channel or stream; one of a call that is over is dropped.
  function onMessage(from, data) {
    if (from !== call) return;
    try { onEvent(JSON.parse(data)); } catch (error) { console.warn(error); }
  }

  // --- the microphone: devices, level, mute ----------------------------------------------

  async function microphone() {
    const deviceId = ui.micSelect.value;
    try {
      return await navigator.mediaDevices.getUserMedia({
        audio: deviceId ? { deviceId: { exact: deviceId } } : true,
      });
    } catch (error) {
      if (error.name === "NotAllowedError" || error.name === "SecurityError") {
        throw new Error("Microphone access was denied. Allow the microphone for this site and start again.");
      }
      if (error.name === "NotFoundError" || error.name === "OverconstrainedError") {
        throw new Error("No microphone was found.");
      }
      throw new Error(`The microphone could not be opened: ${error.message}`);
    }
  }

  // The microphones the browser offers (named once the page may use one).
  async function listDevices(current) {
    let devices = [];
    try { devices = await navigator.mediaDevices.enumerateDevices(); } catch { return; }
    const inputs = devices.filter((device) => device.kind === "audioinput" && device.deviceId);
    const chosen = current || ui.micSelect.value;
    ui.micSelect.replaceChildren(new Option("Default microphone", ""));
    inputs.forEach((device, index) => {
      const name = device.label || `Microphone ${index + 1}`;
      ui.micSelect.append(new Option(name, device.deviceId, false, device.deviceId === chosen));
    });
  }

  // Another microphone mid-call: the sender's track is replaced, the call goes on.
  async function switchDevice() {
    if (!call || call.done || !call.mic) return;
    let stream;
    try { stream = await microphone(); } catch (error) { showError(error.message); return; }
    const [track] = stream.getAudioTracks();
    track.enabled = !muted;
    const sender = call.peer && call.peer.getSenders().find((s) => s.track && s.track.kind === "audio");
    if (sender) await sender.replaceTrack(track);
    call.mic.getTracks().forEach((old) => old.stop());
    call.mic = stream;
    startMeter(stream);
  }

  function setMuted(value) {
    muted = value;
    ui.mute.textContent = muted ? "Unmute" : "Mute";
    ui.mute.setAttribute("aria-pressed", String(muted));
    if (call && call.mic) call.mic.getAudioTracks().forEach((track) => { track.enabled = !muted; });
    if (muted) showHint("You are muted: the assistant hears nothing until you unmute.");
    else if (ui.hint.textContent.startsWith("You are muted")) showHint("");
  }

  // The level of what the microphone hears (silence when muted), as the page's meter.
  function startMeter(stream) {
    stopMeter();
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const meter = { context, frame: 0 };
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const value of samples) sum += value * value;
      const level = Math.min(1, Math.sqrt(sum / samples.length) * 4);
      ui.level.value = level;
      ui.level.textContent = level.toFixed(2);
      if (level > Number(ui.level.dataset.peak)) ui.level.dataset.peak = level.toFixed(3);
      meter.frame = requestAnimationFrame(tick);
    };
    tick();
    call.meter = meter;
  }

  function stopMeter() {
    if (!call || !call.meter) return;
    cancelAnimationFrame(call.meter.frame);
    call.meter.context.close().catch(() => {});
    call.meter = null;
    ui.level.value = 0;
    ui.level.textContent = "0";
  }

  // --- the call ---------------------------------------------------------------------------

  // Direct media: the session's events as the control plane recorded them. Open before the
  // offer, so nothing the call says is missed.
  function openEventStream(session) {
    return new Promise((resolve, reject) => {
      const stream = new EventSource(session.stream_url);
      const current = call;
      call.stream = stream;
      stream.onmessage = (message) => onMessage(current, message.data);
      const failed = () => reject(new Error("The call's event stream could not be opened."));
      const timer = setTimeout(failed, 15000); // a stream that never answers
      stream.onopen = () => { clearTimeout(timer); resolve(); };
      stream.onerror = () => {
        if (stream.readyState === EventSource.CLOSED && !call.done) failed();
      };
    });
  }

  function gatheringComplete(peer) {
    if (peer.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => peer.iceGatheringState === "complete" && resolve();
      peer.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, 5000); // answer with what we have rather than hang
    });
  }

  function offerSdp(peer) {
    // Without ICE servers every candidate is a host address; in loopback mode only the
    // control plane's own host addresses (127.0.0.1) are offered, so no packet ever leaves
    // this machine.
    const sdp = peer.localDescription.sdp;
    const hosts = config.ice.offerHosts;
    if (!hosts) return sdp;
    return sdp.split("\r\n").filter((line) => !line.startsWith("a=candidate:")
      || hosts.includes(line.split(" ")[4])).join("\r\n");
  }

  // A new call starts on a clean page: the previous call's lines, tool calls, id, replay
  // link, state history, hints and meter go.
  function resetView() {
    placeholders.forEach(([list, html]) => { list.innerHTML = html; });
    ui.sessionId.textContent = "";
    ui.replay.hidden = true;
    ui.replay.removeAttribute("href");
    ui.status.dataset.history = "";
    ui.level.value = 0;
    ui.level.textContent = "0";
    ui.level.dataset.peak = "0";
    showHint("");
    showError("");
    setMuted(false);
  }

  async function start() {
    if (call && !call.done) return;
    resetView();
    ui.start.disabled = true;
    call = null;
    setStatus("checking");
    if (!(await preflight())) { // before the microphone is asked for
      setStatus("blocked"); // "Check again" asks once more
      return;
    }
    setStatus("starting");
    call = {
      done: false, active: false, partial: null, playing: false, userSpeaking: false,
      awaiting: false, tools: new Map(), quietTimer: 0, meter: null,
    };
    try {
      const mic = await microphone();
      call.mic = mic;
      mic.getAudioTracks().forEach((track) => { track.enabled = !muted; });
      startMeter(mic);
      listDevices(mic.getAudioTracks()[0].getSettings().deviceId);
      ui.mute.disabled = false;
      const started = await fetch(config.start_url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: "{}",
        credentials: "same-origin",
      });
      if (!started.ok) throw new Error(await errorText(started));
      const session = await started.json();
      call.session = session;
      ui.sessionId.textContent = session.session_id;
      setStatus("connecting");

      const peer = new RTCPeerConnection({ iceServers: config.ice.iceServers });
      call.peer = peer;
      mic.getTracks().forEach((track) => peer.addTrack(track, mic));
      peer.ontrack = (event) => {
        ui.audio.srcObject = event.streams[0] || new MediaStream([event.track]);
      };
      peer.onconnectionstatechange = () => {
        if (["failed", "closed"].includes(peer.connectionState) && call.peer === peer && !call.done) {
          // the provider holds the call: end it
          if (config.media === "direct") postEnd(`the connection ${peer.connectionState}`);
          finish("failed", `the connection ${peer.connectionState}`);
        }
      };
      if (config.media === "direct") {
        await openEventStream(session);
      } else {
        const channel = peer.createDataChannel("events");
        call.channel = channel;
        const current = call;
        channel.onmessage = (message) => onMessage(current, message.data);
        channel.onopen = () => { ui.text.disabled = ui.send.disabled = false; };
      }

      await peer.setLocalDescription(await peer.createOffer());
      await gatheringComplete(peer);
      const answered = await fetch(session.offer_url, {
        method: "POST",
        headers: {
          "Content-Type": "application/sdp",
          Authorization: `Bearer ${session.client_secret.value}`,
        },
        body: offerSdp(peer),
      });
      if (!answered.ok) throw new Error(await errorText(answered));
      await peer.setRemoteDescription({ type: "answer", sdp: await answered.text() });
      ui.end.disabled = false;
    } catch (error) {
      showError(error.message);
      if (call.session) postEnd("the call could not be set up"); // it never became a call
      finish("failed", "");
    }
  }

  function finish(state, reason) {
    if (!call || call.done) return;
    call.done = true;
    clearTimeout(call.quietTimer);
    setStatus(state, reason);
    showHint("");
    ui.end.disabled = ui.text.disabled = ui.send.disabled = ui.mute.disabled = true;
    ui.start.disabled = false;
    ui.start.textContent = "Start a new call";
    if (call.session) {
      ui.replay.href = sessionUrl(config.replay_url, call.session.session_id);
      ui.replay.hidden = false;
    }
    stopMeter();
    const ended = call;
    setTimeout(() => {
      if (ended.stream) ended.stream.close();
      if (ended.peer) ended.peer.close();
      if (ended.mic) ended.mic.getTracks().forEach((track) => track.stop());
    }, 300);
  }

  function postEnd(reason) {
    fetch(sessionUrl(config.end_url, call.session.session_id), {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Authorization: `Bearer ${call.session.client_secret.value}`,
      },
      body: JSON.stringify({ reason }),
      keepalive: true, // still sent when the page is being closed
    }).catch(() => {});
  }

  function endCall() {
    if (!call || call.done) return;
    if (call.channel && call.channel.readyState === "open") {
      call.channel.send(JSON.stringify({ type: "end" }));
    } else if (call.session) {
      postEnd("ended by the client"); // as the relayed call's "end" command says
    }
    const ending = call;
    setTimeout(() => { if (call === ending) finish("ended", "you hung up"); }, 1500);
  }

  // Typed turns ride our own peer's data channel; a direct call's peer is the provider's.
  if (config.media === "direct") ui.form.hidden = true;
  ui.start.addEventListener("click", start);
  ui.end.addEventListener("click", endCall);
  ui.recheck.addEventListener("click", checkAccess);
  ui.mute.addEventListener("click", () => setMuted(!muted));
  ui.micSelect.addEventListener("change", switchDevice);
  navigator.mediaDevices.addEventListener("devicechange", () => { if (call && call.mic) listDevices(); });
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.text.value.trim();
    if (!text || !call || !call.channel || call.channel.readyState !== "open") return;
    call.channel.send(JSON.stringify({ type: "input_text", text }));
    ui.text.value = "";
  });
  window.addEventListener("beforeunload", () => { if (call && !call.done) endCall(); });
  checkAccess(); // on load: say at once whether a call can start, without the microphone
})();
