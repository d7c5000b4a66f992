// The voice page: start a session, make the WebRTC call, show the call.
// Plain JavaScript, no build step. The page hands this script its URLs, the session's media
// path and the control plane's ICE policy (#voice-config).
// - media "relay": the peer is the control plane's own; its "events" data channel carries
//   session events out (session.*, speech.*, turn.*, transcript.delta, tool.*, error) and
//   takes input_text / end.
// - media "direct": the peer is the provider's; the same session events come from the control
//   plane's event stream (what it recorded, never the provider's own data channel), and the
//   call ends through the end route.
"use strict";

(() => {
  const config = JSON.parse(document.getElementById("voice-config").textContent);
  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $("status"), error: $("error"), sessionId: $("session-id"), start: $("start"),
    end: $("end"), replay: $("replay"), form: $("text-form"), text: $("text"), send: $("send"),
    audio: $("remote-audio"), transcript: $("transcript"), tools: $("tools"),
  };
  const STATUS_TEXT = {
    idle: "Ready", starting: "Starting…", connecting: "Connecting…", listening: "Listening",
    thinking: "Thinking…", speaking: "Speaking", ended: "Call ended", failed: "Call failed",
  };
  let call = null;
  // The lists' "nothing yet" lines, put back when a new call starts on the same page.
  const placeholders = [ui.transcript, ui.tools].map((list) => [list, list.innerHTML]);

  // One of the page's per-session URLs, with this session's id filled in.
  const sessionUrl = (url, sessionId) =>
    url.replace(config.session_id_slot, encodeURIComponent(sessionId));

  function setStatus(state, detail) {
    ui.status.className = `status status-${state}`;
    ui.status.textContent = STATUS_TEXT[state] + (detail ? ` · ${detail}` : "");
    ui.status.dataset.state = state;
  }

  function showError(message) {
    ui.error.textContent = message;
    ui.error.hidden = !message;
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

  function toolRow(data) {
    const key = data.execution_id || data.call_id || data.tool;
    let row = ui.tools.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (!row) {
      clearPlaceholder(ui.tools);
      row = document.createElement("li");
      row.dataset.key = key;
      row.innerHTML = '<code class="name"></code> <span class="pill state"></span><span class="result"></span>';
      row.querySelector(".name").textContent = data.by === "handler" ? `${data.tool} (handler)` : data.tool;
      ui.tools.append(row);
    }
    return row;
  }

  function showTool(type, data) {
    const row = toolRow(data);
    const state = row.querySelector(".state");
    const status = type === "tool.call" ? "running" : data.status;
    state.textContent = status;
    state.className = `pill state status-${status}`;
    const result = row.querySelector(".result");
    if (type === "tool.call") {
      result.textContent = `arguments: ${JSON.stringify(data.arguments || {})}`;
    } else if (data.result !== undefined) {
      result.textContent = JSON.stringify(data.result);
    } else if (data.error) {
      result.textContent = typeof data.error === "string" ? data.error : JSON.stringify(data.error);
    }
    if (data.execution_id) row.dataset.execution = data.execution_id;
  }

  function onEvent(event) {
    const handlers = {
      "session.active": () => setStatus("listening"),
      "speech.started": () => setStatus("listening", "hearing you"),
      "speech.stopped": () => setStatus("thinking"),
      "turn.user": () => addLine("user", event.text, event.modality === "text" ? "(typed)" : ""),
      "response.started": () => setStatus("thinking"),
      "transcript.delta": () => { setStatus("speaking"); assistantDelta(event.text); },
      "turn.assistant": () => assistantFinal(event.text),
      "response.done": () => { if (!call.playing) setStatus("listening"); },
      "playback.started": () => { call.playing = true; setStatus("speaking"); },
      "playback.stopped": () => { call.playing = false; setStatus("listening"); },
      "tool.call": () => showTool("tool.call", event),
      "tool.result": () => showTool("tool.result", event),
      "error": () => showError(`Provider error: ${event.message || event.code}`),
      "session.ended": () => finish("ended", event.reason),
      "session.failed": () => finish("failed", event.reason),
      "session.expired": () => finish("failed", event.reason || "expired"),
    };
    (handlers[event.type] || (() => {}))();
  }

  function onMessage(data) {
    try { onEvent(JSON.parse(data)); } catch (error) { console.warn(error); }
  }

  // Direct media: the session's events as the control plane recorded them. Open before the
  // offer, so nothing the call says is missed.
  function openEventStream(session) {
    return new Promise((resolve, reject) => {
      const stream = new EventSource(session.stream_url);
      call.stream = stream;
      stream.onmessage = (message) => onMessage(message.data);
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

  async function microphone() {
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      if (error.name === "NotAllowedError" || error.name === "SecurityError") {
        throw new Error("Microphone access was denied. Allow the microphone for this site and start again.");
      }
      if (error.name === "NotFoundError") throw new Error("No microphone was found.");
      throw new Error(`The microphone could not be opened: ${error.message}`);
    }
  }

  // A new call starts on a clean page: the previous call's lines, id and replay link go.
  function resetView() {
    placeholders.forEach(([list, html]) => { list.innerHTML = html; });
    ui.sessionId.textContent = "";
    ui.replay.hidden = true;
    ui.replay.removeAttribute("href");
  }

  async function start() {
    resetView();
    showError("");
    ui.start.disabled = true;
    setStatus("starting");
    call = { done: false, partial: null, playing: false };
    try {
      const mic = await microphone();
      call.mic = mic;
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
        if (["failed", "closed"].includes(peer.connectionState) && !call.done) {
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
        channel.onmessage = (message) => onMessage(message.data);
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
    setStatus(state, reason);
    ui.end.disabled = ui.text.disabled = ui.send.disabled = true;
    ui.start.disabled = false;
    ui.start.textContent = "Start a new call";
    if (call.session) {
      ui.replay.href = sessionUrl(config.replay_url, call.session.session_id);
      ui.replay.hidden = false;
    }
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
    setTimeout(() => finish("ended", "you hung up"), 1500);
  }

  // Typed turns ride our own peer's data channel; a direct call's peer is the provider's.
  if (config.media === "direct") ui.form.hidden = true;
  ui.start.addEventListener("click", start);
  ui.end.addEventListener("click", endCall);
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.text.value.trim();
    if (!text || !call || !call.channel || call.channel.readyState !== "open") return;
    call.channel.send(JSON.stringify({ type: "input_text", text }));
    ui.text.value = "";
  });
  window.addEventListener("beforeunload", () => { if (call && !call.done) endCall(); });
})();
