"""`asr serve` against real components: the shipped streaming digits model, real FSDD clips, real WebSocket clients
and a real headless Chromium whose fake microphone plays a clip.

Servers run in this process on a thread (asr.live.server.serve), except for the CLI test, which starts `asr serve
--port 0` as a subprocess. A transcript from the server must equal, event for event, what a StreamingTranscriber
in this process gives for the same samples in the same chunks, and the true digit. ASR_TEST_STREAM_MODEL names
another streaming model (default digits-stream); each test skips with its reason when a component is absent.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = REPO_ROOT / "samples"
FSDD_DIR = REPO_ROOT.parent / "shared" / "data" / "fsdd" / "recordings"
MODEL = os.environ.get("ASR_TEST_STREAM_MODEL", "digits-stream")
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
PAD_S = 0.5  # silence around a clip sent over the protocol
CHUNK_S = 0.1  # audio per binary message
TIMEOUT_S = 60.0
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def ws_client():
    pytest.importorskip("websockets", reason="the websockets package is not installed")
    from websockets.sync import client
    return client


@pytest.fixture(scope="module")
def model():
    from asr import load_model, models
    try:
        models.resolve(MODEL)
    except FileNotFoundError:
        pytest.skip(f"the streaming model {MODEL!r} is not installed")
    recognizer = load_model(MODEL)
    recognizer.streaming().warm_up()
    return recognizer


class ServerThread:
    """asr.live.server.serve on its own event loop in a thread, on a free port of 127.0.0.1."""

    def __init__(self, model, max_clients: int = 16, final_model=None):
        from asr.live import server
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.port, self.error = None, None
        listening = threading.Event()

        def on_listening(host, port):
            self.port = port
            listening.set()

        def main():
            try:
                self.loop.run_until_complete(server.serve(model, "127.0.0.1", 0, max_clients, self.stop, on_listening,
                                                          final_model))
            except BaseException as e:  # noqa: BLE001 - reported by the test
                self.error = e
                listening.set()

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        assert listening.wait(TIMEOUT_S) and self.error is None, f"server did not start: {self.error!r}"
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}/ws"

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(TIMEOUT_S)
        assert not self.thread.is_alive(), "server did not stop"
        self.loop.close()
        assert self.error is None, self.error


@pytest.fixture(scope="module")
def server(model):
    s = ServerThread(model)
    yield s
    s.close()


# -- audio ---------------------------------------------------------------------------------------------

def load_clip(path, rate_hz: int = 8000, pad_s: float = PAD_S) -> np.ndarray:
    """An FSDD clip as int16 at `rate_hz`, with `pad_s` of faint noise (a quiet room) on both sides."""
    import soundfile as sf
    import soxr
    samples, rate = sf.read(str(path), dtype="float32")
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if rate != rate_hz:
        samples = soxr.resample(samples, rate, rate_hz)
    from asr.evaluate import with_quiet
    samples = with_quiet(samples, pad_s, rate_hz)
    return np.round(np.clip(samples, -1, 1) * 32767).astype(np.int16)


def chunks(samples: np.ndarray, rate_hz: int):
    step = round(CHUNK_S * rate_hz)
    return [samples[i:i + step] for i in range(0, len(samples), step)]


def reference_events(model, samples: np.ndarray, rate_hz: int, final_model=None) -> list[dict]:
    """What a StreamingTranscriber in this process gives for the same chunks, as JSON-round-tripped dicts."""
    from asr.live.streaming import StreamingTranscriber
    stream = StreamingTranscriber(model, sample_rate=rate_hz, final_model=final_model)
    events = [e for chunk in chunks(samples, rate_hz) for e in stream.feed(chunk)] + stream.finish()
    return [json.loads(json.dumps(e.to_dict())) for e in events]


def final_text(events: list[dict]) -> str:
    return " ".join(e["text"] for e in events if e["type"] == "final")


# -- a protocol client -----------------------------------------------------------------------------------

def recv_json(ws) -> dict:
    message = ws.recv(timeout=TIMEOUT_S)
    assert isinstance(message, str), f"expected a text message, got {type(message).__name__}"
    return json.loads(message)


def expect_error(ws, fragment: str = "") -> str:
    reply = recv_json(ws)
    assert reply["type"] == "error", reply
    assert fragment.lower() in reply["message"].lower(), reply
    return reply["message"]


def stream_clip(ws, samples: np.ndarray, rate_hz: int | None) -> list[dict]:
    """start, the samples in CHUNK_S messages, stop on an open connection: the events before `done`."""
    ws.send(json.dumps({"type": "start", **({"sample_rate": rate_hz} if rate_hz else {})}))
    ready = recv_json(ws)
    assert ready["type"] == "ready", ready
    rate_hz = rate_hz or ready["sample_rate"]
    for chunk in chunks(samples, rate_hz):
        ws.send(chunk.astype("<i2").tobytes())
    ws.send(json.dumps({"type": "stop"}))
    events = []
    while (event := recv_json(ws))["type"] != "done":
        assert event["type"] in ("partial", "final"), event
        events.append(event)
    return events


def transcribe_over_ws(ws_client, url: str, samples: np.ndarray, rate_hz: int) -> list[dict]:
    with ws_client.connect(url, open_timeout=TIMEOUT_S) as ws:
        return stream_clip(ws, samples, rate_hz)


def digit_of(path: Path) -> str:
    return DIGIT_WORDS[int(path.name.split("_")[0].split("-")[-1])]


# -- protocol ------------------------------------------------------------------------------------------

def test_page_and_scripts_are_served_over_http(server):
    for path, kind in (("/", "text/html"), ("/?autostart=1", "text/html"), ("/app.js", "javascript"),
                       ("/pcm-worklet.js", "javascript")):
        with urllib.request.urlopen(server.http + path, timeout=TIMEOUT_S) as r:
            assert r.status == 200 and kind in r.headers["Content-Type"], path
            assert len(r.read()) > 100
    for path in ("/nope", "/web/app.js", "/../server.py", "/ws/x"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(server.http + path, timeout=TIMEOUT_S)
        assert e.value.code == 404, path


@pytest.mark.parametrize("rate_hz", [8000, 16000])
def test_a_clip_streamed_gives_the_in_process_transcript_and_the_digit(ws_client, model, server, rate_hz):
    samples = load_clip(SAMPLES / "fsdd-7_nicolas_1.wav", rate_hz)
    events = transcribe_over_ws(ws_client, server.ws, samples, rate_hz)
    assert events == reference_events(model, samples, rate_hz)
    assert any(e["type"] == "partial" for e in events), events
    assert final_text(events) == "seven"
    final = [e for e in events if e["type"] == "final"][-1]
    assert [w["word"] for w in final["words"]] == ["seven"]
    assert PAD_S - 0.3 < final["words"][0]["start_s"] < final["words"][0]["end_s"] < len(samples) / rate_hz


def test_default_rate_is_the_models(ws_client, model, server):
    samples = load_clip(SAMPLES / "fsdd-0_jackson_0.wav", model.sample_rate_hz)
    events = transcribe_over_ws(ws_client, server.ws, samples, None)
    assert final_text(events) == "zero"


def test_malformed_messages_get_errors_and_the_connection_goes_on(ws_client, model, server):
    from asr.live.server import MAX_CONTROL_BYTES, MAX_MESSAGE_BYTES
    samples = load_clip(SAMPLES / "fsdd-9_yweweler_2.wav", 8000)
    with ws_client.connect(server.ws, open_timeout=TIMEOUT_S, max_size=None) as ws:
        for message, fragment in [
            ("hello", "not JSON"), ("[1, 2]", "object"), ('"start"', "object"), ("{}", "unknown"),
            ('{"type": "pause"}', "unknown"), (b"\x00\x00", "before start"), ('{"type": "stop"}', "before start"),
            ('{"type": "start", "sample_rate": 100}', "sample_rate"),
            ('{"type": "start", "sample_rate": 500000}', "sample_rate"),
            ('{"type": "start", "sample_rate": "fast"}', "sample_rate"),
            ('{"type": "start", "sample_rate": true}', "sample_rate"),
            ('{"type": "start", "sample_rate": 8000.5}', "sample_rate"),
        ]:
            ws.send(message)
            expect_error(ws, fragment)
        ws.send(json.dumps({"type": "start", "sample_rate": 8000}))
        assert recv_json(ws) == {"type": "ready", "sample_rate": 8000, "model": MODEL, "final_model": None}
        for message, fragment in [
            ('{"type": "start"}', "already started"), (b"\x01\x00\x02", "odd"),
            (b"\x00" * (MAX_MESSAGE_BYTES + 2), "over the limit"),
            (json.dumps({"type": "stop", "pad": "x" * MAX_MESSAGE_BYTES}), "over the limit"),
            (json.dumps({"type": "stop", "pad": "x" * MAX_CONTROL_BYTES}), "over the limit"),
            ("[" * 100_000, "over the limit"),  # 100 kB of brackets: refused before it is parsed
            ("[" * 60_000, "nested"),  # under the size limit, deeper than the parser's recursion limit
            ('{"type": "stop", "x": [[[[[1]]]]]}', "nested"),  # shallow for Python, deeper than any message
            ('{"type": "stop"', "not JSON"),
        ]:
            ws.send(message)
            expect_error(ws, fragment)
        # the stream opened above is untouched by the rejected messages
        for chunk in chunks(samples, 8000):
            ws.send(chunk.tobytes())
        ws.send(json.dumps({"type": "stop"}))
        events = []
        while (event := recv_json(ws))["type"] != "done":
            events.append(event)
        assert events == reference_events(model, samples, 8000)
        assert final_text(events) == "nine"
        # and the same connection takes another stream
        assert final_text(stream_clip(ws, samples, 8000)) == "nine"


def test_bad_messages_on_one_connection_leave_another_streaming(ws_client, model, server):
    samples = load_clip(SAMPLES / "fsdd-9_yweweler_2.wav", 8000)
    result = {}

    def streamer():
        result["events"] = transcribe_over_ws(ws_client, server.ws, samples, 8000)

    thread = threading.Thread(target=streamer)
    thread.start()
    with ws_client.connect(server.ws, open_timeout=TIMEOUT_S) as ws:
        for message in ["[" * 100_000, "[" * 60_000, "{" * 50_000, "nope", b"\x00\x00"] * 3:
            ws.send(message)
            expect_error(ws)
        assert final_text(stream_clip(ws, samples, 8000)) == "nine"  # and this one still serves
    thread.join(TIMEOUT_S)
    assert result["events"] == reference_events(model, samples, 8000)


@pytest.fixture(scope="module")
def final_model():
    from asr import load_model, models
    try:
        models.resolve("digits")
    except FileNotFoundError:
        pytest.skip("the offline digits model is not installed")
    return load_model("digits")


def test_two_passes_a_clip_gives_the_in_process_two_pass_transcript(ws_client, model, final_model):
    s = ServerThread(model, final_model=final_model)
    try:
        samples = np.concatenate([load_clip(SAMPLES / name, 8000) for name in
                                  ("fsdd-7_nicolas_1.wav", "fsdd-0_jackson_0.wav")])
        with ws_client.connect(s.ws, open_timeout=TIMEOUT_S) as ws:
            ws.send(json.dumps({"type": "start", "sample_rate": 8000}))
            assert recv_json(ws) == {"type": "ready", "sample_rate": 8000, "model": MODEL, "final_model": "digits"}
            ws.send(json.dumps({"type": "stop"}))
            assert recv_json(ws)["type"] == "done"
            events = stream_clip(ws, samples, 8000)
        expected = reference_events(model, samples, 8000, final_model)
        key = lambda evs: [e for e in evs if e["type"] == "final"]  # noqa: E731
        assert key(events) == key(expected) and final_text(events) == "seven zero"
        # finals are sent when decoded, so a partial of the next utterance may come before one: same partials
        assert [e for e in events if e["type"] == "partial"] == [e for e in expected if e["type"] == "partial"]
    finally:
        s.close()


class HeldFinals:
    """A final model whose every transcription waits until the test releases it."""

    def __init__(self, sample_rate_hz):
        self.sample_rate_hz = sample_rate_hz
        self.release = threading.Event()
        self.model_dir = Path("held")

    def transcribe(self, audio, sample_rate=None):
        from asr.decoding.ctc import Word
        from asr.recognizer import Transcript
        assert self.release.wait(TIMEOUT_S)
        return Transcript("held", len(audio) / self.sample_rate_hz, (Word("held", 0.0, 0.1, 1.0),))


def test_a_final_being_decoded_holds_up_no_partials(ws_client, model):
    """Two clients; every final is held: both streams' partials go on (the one whose final is held included),
    and the finals arrive once released."""
    held = HeldFinals(model.sample_rate_hz)
    s = ServerThread(model, final_model=held)
    clip = load_clip(SAMPLES / "fsdd-7_nicolas_1.wav", 8000)
    try:
        with ws_client.connect(s.ws) as a, ws_client.connect(s.ws) as b:
            for ws in (a, b):
                ws.send(json.dumps({"type": "start", "sample_rate": 8000}))
                assert recv_json(ws)["type"] == "ready"
            for chunk in chunks(clip, 8000):  # a: one utterance, whose final is now held
                a.send(chunk.tobytes())
            for ws in (a, b):  # then both speak: partials must come
                for chunk in chunks(clip, 8000):
                    ws.send(chunk.tobytes())
            seen = {"a": [], "b": []}
            deadline = time.monotonic() + TIMEOUT_S
            while not (seen["a"].count("partial") >= 2 and "partial" in seen["b"]):
                assert time.monotonic() < deadline, seen
                for name, ws in (("a", a), ("b", b)):
                    try:
                        seen[name].append(json.loads(ws.recv(timeout=0.2))["type"])
                    except TimeoutError:
                        pass
            assert "final" not in seen["a"] + seen["b"]
            held.release.set()
            for ws, name in ((a, "a"), (b, "b")):
                ws.send(json.dumps({"type": "stop"}))
                while (event := recv_json(ws))["type"] != "done":
                    seen[name].append(event["type"])
            assert seen["a"].count("final") == 2 and seen["b"].count("final") == 1, seen
    finally:
        s.close()


def test_a_frame_over_the_websocket_limit_closes_only_that_connection(ws_client, server):
    from websockets.exceptions import ConnectionClosed

    from asr.live.server import MAX_FRAME_BYTES
    with ws_client.connect(server.ws, open_timeout=TIMEOUT_S, max_size=None) as ws:
        ws.send(json.dumps({"type": "start"}))
        assert recv_json(ws)["type"] == "ready"
        ws.send(b"\x00" * (MAX_FRAME_BYTES + 2))
        with pytest.raises(ConnectionClosed) as e:
            ws.recv(timeout=TIMEOUT_S)
        assert e.value.rcvd is not None and e.value.rcvd.code == 1009
    samples = load_clip(SAMPLES / "fsdd-9_yweweler_2.wav", 8000)
    assert final_text(transcribe_over_ws(ws_client, server.ws, samples, 8000)) == "nine"


def eight_clips(model) -> list[Path]:
    """Eight real clips of eight different digits that the model gets right offline-streamed, from the FSDD
    corpus (first recordings of each speaker); skip when the corpus is absent."""
    if not FSDD_DIR.is_dir():
        pytest.skip(f"the FSDD corpus is absent ({FSDD_DIR})")
    picked: dict[str, Path] = {}
    for path in sorted(FSDD_DIR.glob("*_[0-4].wav"), key=lambda p: (p.stem.split("_")[2], p.stem)):
        word = digit_of(path)
        if word in picked:
            continue
        if final_text(reference_events(model, load_clip(path, 8000), 8000)) == word:
            picked[word] = path
        if len(picked) == 8:
            return list(picked.values())
    pytest.skip("the model gets fewer than 8 different digits right")


def test_eight_concurrent_clients_each_get_their_own_transcript(ws_client, model, server):
    clips = eight_clips(model)
    jobs = [(path, 8000 if i % 2 else 16000) for i, path in enumerate(clips)]
    audio = [load_clip(path, rate) for path, rate in jobs]
    barrier = threading.Barrier(len(jobs))

    def client(i):
        with ws_client.connect(server.ws, open_timeout=TIMEOUT_S) as ws:
            barrier.wait(TIMEOUT_S)  # all eight connected before any streams
            return stream_clip(ws, audio[i], jobs[i][1])

    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(client, range(len(jobs))))
    for (path, rate), samples, events in zip(jobs, audio, results):
        assert final_text(events) == digit_of(path), path.name
        assert events == reference_events(model, samples, rate), path.name


def slot_is_free(ws_client, url: str) -> bool:
    """Whether a new connection is accepted (gets `ready` for its start) rather than refused as busy."""
    from websockets.exceptions import ConnectionClosed
    try:
        with ws_client.connect(url, open_timeout=TIMEOUT_S) as ws:
            ws.send(json.dumps({"type": "start"}))
            return recv_json(ws)["type"] == "ready"
    except ConnectionClosed:
        return False


def test_max_clients_refuses_the_extra_one_and_abrupt_disconnects_free_their_slot(ws_client, model):
    from websockets.exceptions import ConnectionClosed
    samples = load_clip(SAMPLES / "fsdd-7_nicolas_1.wav", 8000)
    s = ServerThread(model, max_clients=2)
    try:
        with ws_client.connect(s.ws) as a, ws_client.connect(s.ws) as b:
            for ws in (a, b):
                ws.send(json.dumps({"type": "start"}))
                assert recv_json(ws)["type"] == "ready"
            with ws_client.connect(s.ws, open_timeout=TIMEOUT_S) as extra:
                assert "busy" in expect_error(extra)
                with pytest.raises(ConnectionClosed) as e:
                    extra.recv(timeout=TIMEOUT_S)
                assert e.value.rcvd.code == 1013 and "busy" in e.value.rcvd.reason
            # two clients vanish mid-stream without a closing handshake
            for ws in (a, b):
                ws.send(samples[:4000].tobytes())
                ws.socket.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + TIMEOUT_S
        while not slot_is_free(ws_client, s.ws):  # the server notices dead sockets quickly, not instantly
            assert time.monotonic() < deadline, "the vanished clients' slots were never freed"
            time.sleep(0.2)
        with ws_client.connect(s.ws) as c:
            while not slot_is_free(ws_client, s.ws):  # the second slot too
                assert time.monotonic() < deadline, "a vanished client's slot was never freed"
                time.sleep(0.2)
            assert final_text(stream_clip(c, samples, 8000)) == "seven"
    finally:
        s.close()


# -- the command ---------------------------------------------------------------------------------------

def test_asr_serve_command_prints_its_url_serves_and_stops_on_sigterm(ws_client, model):
    cmd = ["nice", "-n", "10", sys.executable, "-m", "asr.cli", "serve", "--model", MODEL, "--final-model", "digits",
           "--port", "0"]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    url = threading.Event()

    def read():
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("asr: serving on http://"):
                url.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert url.wait(120), "".join(lines)
        base = next(line for line in lines if line.startswith("asr: serving on "))
        base = base.split("serving on ", 1)[1].strip()
        assert base.startswith("http://127.0.0.1:") and base.endswith("/") and not base.endswith(":0/")
        with urllib.request.urlopen(base, timeout=TIMEOUT_S) as r:
            assert b'src="app.js"' in r.read()
        samples = load_clip(SAMPLES / "fsdd-0_jackson_0.wav", 8000)
        url_ws = base.replace("http://", "ws://") + "ws"
        events = transcribe_over_ws(ws_client, url_ws, samples, 8000)
        assert final_text(events) == "zero"
        with ws_client.connect(url_ws) as ws:  # a browser tab closed mid-stream
            ws.send(json.dumps({"type": "start"}))
            recv_json(ws)
            ws.send(samples[:4000].tobytes())
            ws.close(1001, "going away")
        with ws_client.connect(url_ws) as ws:  # a network that drops
            ws.send(json.dumps({"type": "start"}))
            recv_json(ws)
            ws.socket.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + TIMEOUT_S
        while sum("disconnected" in line for line in lines) < 3:
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT_S) == 0, "".join(lines)
        text = "".join(lines)
        assert "Traceback" not in text and "error" not in text.lower(), text  # disconnects are not errors
        assert any("disconnected (code 1001 going away)" in line for line in lines), text
        assert all(line.startswith("asr: ") for line in lines), text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- a real browser ------------------------------------------------------------------------------------

def write_wav(path: Path, samples: np.ndarray, rate_hz: int) -> None:
    import soundfile as sf
    sf.write(str(path), samples, rate_hz, subtype="PCM_16")


def cdp_evaluate(ws, expression: str, ident: int):
    ws.send(json.dumps({"id": ident, "method": "Runtime.evaluate",
                        "params": {"expression": expression, "returnByValue": True}}))
    while True:
        reply = json.loads(ws.recv(timeout=TIMEOUT_S))
        if reply.get("id") == ident:
            return reply["result"]["result"].get("value")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_headless_chromium_with_a_fake_microphone_shows_the_digit(ws_client, server, tmp_path):
    wav = tmp_path / "mic.wav"
    write_wav(wav, load_clip(SAMPLES / "fsdd-7_nicolas_1.wav", 48000, pad_s=1.0), 48000)
    profile = tmp_path / "profile"
    profile.mkdir()
    page = f"{server.http}/?autostart=1"
    cmd = ["nice", "-n", "10", CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--remote-debugging-port=0", "--autoplay-policy=no-user-gesture-required",
           "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
           f"--use-file-for-fake-audio-capture={wav}", page]
    browser = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    state = None
    try:
        deadline = time.monotonic() + 90
        port_file = profile / "DevToolsActivePort"
        while not (port_file.is_file() and port_file.read_text().count("\n") >= 1):
            assert browser.poll() is None, browser.stderr.read().decode(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.2)
        devtools_port = int(port_file.read_text().split()[0])
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{devtools_port}/json/list", timeout=10) as r:
                targets = [t for t in json.load(r) if t.get("type") == "page" and t["url"].startswith(server.http)]
            if targets:
                break
            assert time.monotonic() < deadline, "chromium did not open the page"
            time.sleep(0.2)
        expression = ("JSON.stringify({finals: [...document.querySelectorAll('#finals li .text')]"
                      ".map(li => li.textContent),"
                      " times: [...document.querySelectorAll('#finals li .time')].map(li => li.textContent),"
                      " model: document.getElementById('model').textContent, srt: asSrt(),"
                      " level: document.getElementById('level').value,"
                      " status: document.getElementById('status').textContent,"
                      " error: document.getElementById('error').textContent})")
        deadline = time.monotonic() + 60
        with ws_client.connect(targets[0]["webSocketDebuggerUrl"], max_size=None) as cdp:
            for ident in range(1, 10**6):
                value = cdp_evaluate(cdp, expression, ident)  # None while the page is still loading
                state = json.loads(value) if value else state
                if state and ("seven" in state["finals"] or state["error"]) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert state is not None, "the page never loaded"
            assert not state["error"], state
            assert "seven" in state["finals"], state
            assert state["model"] == f"Model: {MODEL} (one pass)", state
            assert re.fullmatch(r"0:0\d\.\d–0:0\d\.\d", state["times"][0]), state  # the fake mic loops
            assert re.match(r"1\n00:00:0\d,\d{3} --> 00:00:0\d,\d{3}\nseven\n", state["srt"]), state
            # Stop: the page sends stop, gets done, closes the socket and says so, with no error
            cdp_evaluate(cdp, "document.getElementById('stop').click()", 0)
            while (state := json.loads(cdp_evaluate(cdp, expression, ident := ident + 1)))["status"] != "Stopped.":
                assert time.monotonic() < deadline + 15, state
                time.sleep(0.2)
            assert not state["error"], state
    finally:
        try:
            os.killpg(browser.pid, signal.SIGTERM)
            browser.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(browser.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            browser.wait()
