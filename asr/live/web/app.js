// Live transcription page: microphone -> AudioWorklet (pcm-worklet.js) -> int16 PCM over a WebSocket to
// `asr serve` (protocol in asr/live/server.py) -> a partial line (greyed) that each final replaces; finals listed
// with their times, copied or downloaded as text or SRT; an input level meter; the models in use.
"use strict";

const CHUNK_S = 0.05; // seconds of audio per binary message
const $ = (id) => document.getElementById(id);
let session = null; // {ws, ctx, mic, node, pending: [Float32Array], pendingLength, stopping}

function setStatus(text) { $("status").textContent = text; }
function setError(text) { $("error").textContent = text; }
function setButtons(running) { $("start").disabled = running; $("stop").disabled = !running; }

const finals = []; // {start_s, end_s, text} of every final shown
let partialStart = null; // start_s of the utterance whose partial is shown

// seconds -> "m:ss.s" (on the page) or "hh:mm:ss,mmm" (SRT)
function clock(t) { return `${Math.floor(t / 60)}:${(t % 60).toFixed(1).padStart(4, "0")}`; }
function srtTime(t) {
  const ms = Math.round(t * 1000);
  const p = (n, w) => String(n).padStart(w, "0");
  return `${p(Math.floor(ms / 3600000), 2)}:${p(Math.floor(ms / 60000) % 60, 2)}:${p(Math.floor(ms / 1000) % 60, 2)},${p(ms % 1000, 3)}`;
}
function asText() { return finals.map((f) => f.text).join("\n") + "\n"; }
function asSrt() {
  return finals.map((f, i) => `${i + 1}\n${srtTime(f.start_s)} --> ${srtTime(f.end_s)}\n${f.text}\n`).join("\n");
}

function addFinal(msg) {
  const start = msg.words && msg.words.length ? msg.words[0].start_s : msg.start_s;
  const end = msg.words && msg.words.length ? msg.words[msg.words.length - 1].end_s : msg.end_s;
  finals.push({ start_s: start, end_s: end, text: msg.text });
  const li = document.createElement("li");
  const time = document.createElement("span");
  time.className = "time";
  time.textContent = `${clock(start)}–${clock(end)}`;
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = msg.text;
  li.append(time, text);
  $("finals").appendChild(li);
  for (const id of ["copy", "download-txt", "download-srt"]) $(id).disabled = false;
}

function download(name, body) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([body], { type: "text/plain;charset=utf-8" }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function showLevel(block) {
  let sum = 0;
  for (let i = 0; i < block.length; i++) sum += block[i] * block[i];
  const db = 10 * Math.log10(sum / Math.max(block.length, 1) + 1e-10); // -100 (silence) .. 0 dBFS
  $("level").value = Math.max(0, Math.min(1, (db + 60) / 60));
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
  $("level").value = 0;
  s.node = s.mic = s.ctx = null;
}

function onServerMessage(s, event) {
  if (typeof event.data !== "string") return;
  const msg = JSON.parse(event.data);
  if (msg.type === "ready") {
    setStatus(`Listening (${msg.sample_rate} Hz)…`);
    $("model").textContent = msg.final_model ? `Partials: ${msg.model}; finals: ${msg.final_model}`
      : `Model: ${msg.model || "?"} (one pass)`;
  } else if (msg.type === "partial") {
    $("partial").textContent = msg.text;
    partialStart = msg.start_s;
  } else if (msg.type === "final") {
    // the final replaces its partial; a later utterance's partial (finals are decoded while it goes on) stays
    if (partialStart === null || partialStart <= msg.start_s) { $("partial").textContent = ""; partialStart = null; }
    if (msg.text) addFinal(msg);
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
      showLevel(e.data);
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
$("copy").addEventListener("click", () => navigator.clipboard.writeText(asText()).then(
  () => setStatus("Transcript copied."), () => setError("The browser refused the clipboard.")));
$("download-txt").addEventListener("click", () => download("transcript.txt", asText()));
$("download-srt").addEventListener("click", () => download("transcript.srt", asSrt()));
$("stop").addEventListener("click", stop);
if (new URLSearchParams(location.search).get("autostart") === "1") start();
