// Live transcription page: microphone -> AudioWorklet (pcm-worklet.js) -> int16 PCM over a WebSocket to
// `asr serve` (protocol in asr/live/server.py) -> partial (greyed) and final lines.
"use strict";

const CHUNK_S = 0.05; // seconds of audio per binary message
const $ = (id) => document.getElementById(id);
let session = null; // {ws, ctx, mic, node, pending: [Float32Array], pendingLength, stopping}

function setStatus(text) { $("status").textContent = text; }
function setError(text) { $("error").textContent = text; }
function setButtons(running) { $("start").disabled = running; $("stop").disabled = !running; }

function addFinal(text) {
  const li = document.createElement("li");
  li.textContent = text;
  $("finals").appendChild(li);
}

// Float32 blocks -> one little-endian int16 buffer (x86 and ARM browsers are little-endian)
function toInt16(blocks, length) {
  const out = new Int16Array(length);
  let k = 0;
  for (const block of blocks) {
    for (let i = 0; i < block.length; i++) {
      const s = Math.max(-1, Math.min(1, block[i]));
      out[k++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    }
  }
  return out.buffer;
}

function sendPending(s) {
  if (s.pendingLength > 0 && s.ws.readyState === WebSocket.OPEN) {
    s.ws.send(toInt16(s.pending, s.pendingLength));
  }
  s.pending = [];
  s.pendingLength = 0;
}

function releaseAudio(s) {
  if (s.node) { s.node.port.onmessage = null; s.node.disconnect(); }
  if (s.mic) s.mic.getTracks().forEach((t) => t.stop());
  if (s.ctx) s.ctx.close();
  s.node = s.mic = s.ctx = null;
}

function onServerMessage(s, event) {
  if (typeof event.data !== "string") return;
  const msg = JSON.parse(event.data);
  if (msg.type === "ready") {
    setStatus(`Listening (${msg.sample_rate} Hz)…`);
  } else if (msg.type === "partial") {
    $("partial").textContent = msg.text;
  } else if (msg.type === "final") {
    $("partial").textContent = "";
    if (msg.text) addFinal(msg.text);
  } else if (msg.type === "error") {
    setError(`Server: ${msg.message}`);
  } else if (msg.type === "done") {
    s.ws.close(1000, "done");
  }
}

async function start() {
  setError("");
  setButtons(true);
  setStatus("Asking for the microphone…");
  const s = { ws: null, ctx: null, mic: null, node: null, pending: [], pendingLength: 0, stopping: false };
  session = s;
  try {
    s.mic = await navigator.mediaDevices.getUserMedia(
      { audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  } catch (e) {
    setError(`No microphone: ${e.name === "NotAllowedError" ? "permission denied" : e.message || e.name}`);
    setStatus("Stopped.");
    setButtons(false);
    session = null;
    return;
  }
  try {
    s.ctx = new AudioContext();
    await s.ctx.audioWorklet.addModule("pcm-worklet.js");
    await s.ctx.resume();
  } catch (e) {
    setError(`Audio capture failed: ${e.message || e.name}`);
    releaseAudio(s);
    setStatus("Stopped.");
    setButtons(false);
    session = null;
    return;
  }
  const chunkLength = Math.round(s.ctx.sampleRate * CHUNK_S);
  setStatus("Connecting…");
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  s.ws = new WebSocket(`${scheme}${location.host}/ws`);
  s.ws.onopen = () => {
    s.ws.send(JSON.stringify({ type: "start", sample_rate: s.ctx.sampleRate }));
    s.node = new AudioWorkletNode(s.ctx, "pcm-capture");
    s.node.port.onmessage = (e) => {
      if (s.stopping) return;
      s.pending.push(e.data);
      s.pendingLength += e.data.length;
      if (s.pendingLength >= chunkLength) sendPending(s);
    };
    s.ctx.createMediaStreamSource(s.mic).connect(s.node);
    s.node.connect(s.ctx.destination); // keeps the node pulled; it outputs silence
  };
  s.ws.onmessage = (e) => onServerMessage(s, e);
  s.ws.onclose = (e) => {
    releaseAudio(s);
    if (!s.stopping) {
      setError(`Connection lost${e.reason ? `: ${e.reason}` : ""} (code ${e.code}).`);
    }
    setStatus("Stopped.");
    setButtons(false);
    if (session === s) session = null;
  };
}

function stop() {
  const s = session;
  if (!s || s.stopping) return;
  sendPending(s);
  s.stopping = true;
  releaseAudio(s);
  setStatus("Finishing…");
  if (s.ws && s.ws.readyState === WebSocket.OPEN) {
    s.ws.send(JSON.stringify({ type: "stop" }));
  } else if (s.ws) {
    s.ws.close();
  }
}

$("start").addEventListener("click", start);
$("stop").addEventListener("click", stop);
if (new URLSearchParams(location.search).get("autostart") === "1") start();
