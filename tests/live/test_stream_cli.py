"""`asr stream` as a real process against real audio components: a file read as if live (at real-time speed and
--fast), a PulseAudio virtual microphone read through sounddevice/PortAudio, no sound server at all, Ctrl-C, and
bad input. Each test skips, saying why, when its component (the streaming digits model, PulseAudio, PortAudio)
is absent; tests/system-deps.sh installs the system packages."""
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = "digits-stream"
FINAL_MODEL = "digits"  # the offline model for the finals of two passes
MODEL_DIR = REPO_ROOT / "asr" / "models" / MODEL
LIVE = ("--model", MODEL, "--final-model", FINAL_MODEL)
SEVEN = REPO_ROOT / "samples" / "fsdd-7_nicolas_1.wav"
PAD_S = 0.5
MIC_RATE_HZ = 16000
CLOSING = re.compile(r"asr: streamed ([\d.]+) s of audio in ([\d.]+) s")
LISTENING = "asr: listening to"

needs_model = pytest.mark.skipif(not MODEL_DIR.is_dir(), reason=f"no streaming model asr/models/{MODEL} yet")


def asr_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "ASR_VERBOSE"}
    return {**env, **extra}


def asr(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "asr.cli", "stream", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO_ROOT, env=env or asr_env(), timeout=timeout)


def start_asr(*args, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "asr.cli", "stream", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT, env=env or asr_env())


class Lines:
    """The lines of a pipe, read by a thread, so a test can wait for one with a timeout."""

    def __init__(self, pipe):
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self.thread.start()

    def _read(self, pipe):
        for line in pipe:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, predicate, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if predicate(line):
                return line
        raise AssertionError(f"no such line within {timeout_s} s; got {self.seen}")

    def rest(self) -> str:
        self.thread.join(timeout=60)
        while not self.lines.empty():
            line = self.lines.get()
            if line is not None:
                self.seen.append(line)
        return "".join(self.seen)


def events(stdout: str) -> list[dict]:
    lines = stdout.splitlines()
    assert all(line.startswith("{") for line in lines), stdout  # nothing but JSON events on stdout
    out = [json.loads(line) for line in lines]
    for e in out:
        assert e["type"] in ("partial", "final"), e
        assert {"text", "start_s", "end_s"} <= set(e) and e["start_s"] <= e["end_s"]
    return out


def finals(evs) -> list[str]:
    return [e["text"] for e in evs if e["type"] == "final"]


def assert_clean_stderr(stderr: str, errors: int = 0) -> re.Match | None:
    """No traceback; `errors` lines "asr: error: ..."; the rest only asr's own lines (listening, closing)."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert sum(line.startswith("asr: error: ") for line in lines) == errors, stderr
    assert all(line.startswith("asr: ") for line in lines), stderr
    return next((m for m in map(CLOSING.fullmatch, lines) if m), None)


def quiet(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Faint noise, as a microphone in a quiet room gives (digital zeros are not what live audio sounds like)."""
    from asr.evaluate import QUIET_RMS
    return (np.random.default_rng(seed).standard_normal(round(seconds * rate)) * QUIET_RMS).astype(np.float32)


def padded(path: Path, out: Path, before_s=PAD_S, after_s=PAD_S) -> Path:
    """`path` with faint noise before and after (FSDD clips are cut tight to the word)."""
    samples, rate = soundfile.read(path, dtype="float32")
    audio = np.concatenate([quiet(before_s, rate, 1), samples, quiet(after_s, rate, 2)])
    soundfile.write(out, audio, rate, subtype="PCM_16")
    return out


@pytest.fixture(scope="module")
def seven_wav(tmp_path_factory) -> Path:
    return padded(SEVEN, tmp_path_factory.mktemp("stream") / "seven-padded.wav")


@pytest.fixture(scope="module")
def stream_model():
    if not MODEL_DIR.is_dir():
        pytest.skip(f"no streaming model asr/models/{MODEL} yet")
    from asr import load_model
    return load_model(MODEL)


@pytest.fixture(scope="module")
def final_model():
    from asr import load_model
    return load_model(FINAL_MODEL)


def python_finals(model, audio, final_model=None) -> list[str]:
    """What the Python API gives for a whole file (or float samples at the model's rate) fed at once."""
    from asr.audio.load import load_audio
    from asr.live.streaming import StreamingTranscriber
    stream = StreamingTranscriber(model, sample_rate=model.sample_rate_hz, final_model=final_model)
    samples = load_audio(audio, model.sample_rate_hz) if isinstance(audio, Path) else audio
    evs = stream.feed(samples) + stream.finish()
    return [e.text for e in evs if e.type == "final"]


# --- --source: a file as if live ---------------------------------------------------------------------------------

@needs_model
@pytest.mark.parametrize("speed", ["--fast", "real-time"])
def test_source_jsonl_matches_python_api_and_truth(speed, seven_wav, stream_model, final_model):
    audio_s = soundfile.info(seven_wav).duration
    run = asr(*LIVE, "--source", seven_wav, "--format", "jsonl", *([speed] if speed == "--fast" else []))
    assert run.returncode == 0, run.stderr
    evs = events(run.stdout)
    assert finals(evs) == python_finals(stream_model, seven_wav, final_model) == ["seven"]
    assert evs[-1]["type"] == "final" and evs[-1]["words"][0]["word"] == "seven"
    closing = assert_clean_stderr(run.stderr)
    assert closing, run.stderr
    heard_s, wall_s = float(closing[1]), float(closing[2])
    assert abs(heard_s - audio_s) < 0.1
    if speed == "real-time":  # paced by the wall clock, without drifting behind it
        assert audio_s - 0.1 <= wall_s < audio_s + 1.5, run.stderr
    else:
        assert wall_s < audio_s


@needs_model
def test_one_pass_gives_the_streaming_models_own_finals(two_sentences_wav, stream_model):
    run = asr("--model", "english-stream", "--one-pass", "--source", two_sentences_wav, "--format", "jsonl", "--fast")
    assert run.returncode == 0, run.stderr
    from asr import load_model
    english_stream = load_model("english-stream")
    assert finals(events(run.stdout)) == python_finals(english_stream, two_sentences_wav)
    assert_clean_stderr(run.stderr)


@pytest.fixture(scope="module")
def two_sentences_wav(tmp_path_factory) -> Path:
    """Two LibriSpeech sample clips with 1.5 s of faint noise around each, as one WAV file."""
    from asr.audio.load import load_audio
    parts = []
    for i, name in enumerate(("librispeech-2428-83699-0011.opus", "librispeech-6241-61946-0010.opus")):
        parts += [quiet(1.5, 16000, 10 + i), load_audio(REPO_ROOT / "samples" / name, 16000)]
    out = tmp_path_factory.mktemp("stream") / "two-sentences.wav"
    soundfile.write(out, np.concatenate(parts + [quiet(1.5, 16000, 20)]), 16000, subtype="PCM_16")
    return out


@needs_model
def test_two_passes_by_default_give_the_offline_models_finals(two_sentences_wav, stream_model):
    """With no options: english-stream partials, finals by the default model, one per sentence, each with words
    inside it, and different (better) than the streaming model's own."""
    from asr import load_model
    run = asr("--source", two_sentences_wav, "--format", "jsonl", "--fast")
    assert run.returncode == 0, run.stderr
    evs = events(run.stdout)
    english_stream = load_model("english-stream")
    assert finals(evs) == python_finals(english_stream, two_sentences_wav, load_model())
    assert len(finals(evs)) == 2 and finals(evs) != python_finals(english_stream, two_sentences_wav)
    assert finals(evs)[0] == "all night it had been blowing and raining"
    for e in evs:
        if e["type"] == "final":
            assert e["words"] and all(e["start_s"] <= w["start_s"] <= w["end_s"] <= e["end_s"] for w in e["words"])
    assert_clean_stderr(run.stderr)


@needs_model
def test_source_text_not_a_terminal_prints_only_finals(seven_wav):
    run = asr(*LIVE, "--source", seven_wav, "--fast", "--block-ms", "25")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "seven\n"  # no partials, no control characters
    assert_clean_stderr(run.stderr)


@needs_model
def test_source_text_on_a_terminal_updates_a_live_line(seven_wav):
    import pty
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "asr.cli", "stream", *LIVE, "--source",
                                 str(seven_wav), "--fast"], stdout=follower, stderr=subprocess.PIPE, text=True,
                                cwd=REPO_ROOT, env=asr_env())
        os.close(follower)
        follower = None
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # EIO: the process closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=120) == 0
        assert_clean_stderr(proc.stderr.read())
        proc.stderr.close()
    finally:
        os.close(leader)
        if follower is not None:
            os.close(follower)
    screen = b"".join(chunks).decode()
    assert "\r\x1b[K" in screen  # the partial line is rewritten in place
    assert screen.endswith("\r\x1b[Kseven\r\n")  # and replaced by the final (the terminal turns \n into \r\n)


def test_bad_source_gives_one_error_line_naming_it(tmp_path):
    bad = tmp_path / "not-audio.wav"
    bad.write_text("this is not audio\n")
    for path in (bad, tmp_path / "missing.wav"):
        run = asr("--model", MODEL, "--source", path)
        assert run.returncode == 1, run.stderr
        assert run.stdout == ""
        assert_clean_stderr(run.stderr, errors=1)
        assert str(path) in run.stderr and len(run.stderr.splitlines()) == 1


@needs_model
def test_ctrl_c_during_a_real_time_source_stops_cleanly(tmp_path):
    """SIGINT part-way through a real-time file: the input stops, the finals heard are printed, exit 0."""
    wav = padded(SEVEN, tmp_path / "seven-then-silence.wav", after_s=30.0)
    proc = start_asr(*LIVE, "--source", wav, "--format", "jsonl")
    out = Lines(proc.stdout)
    try:
        out.wait_for(lambda line: json.loads(line)["type"] == "final", timeout_s=120)
        proc.send_signal(signal.SIGINT)  # during the 30 s of silence
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
    evs = events(out.rest())
    assert finals(evs) == ["seven"]
    closing = assert_clean_stderr(proc.stderr.read())
    assert closing and float(closing[1]) < 10  # it stopped long before the end of the file


# --- the real audio stack: PulseAudio -> ALSA -> PortAudio -> sounddevice ---------------------------------------

def _sounddevice_works() -> str | None:
    """Why the microphone path cannot be tested here, or None."""
    for tool in ("pulseaudio", "pactl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (tests/system-deps.sh)"
    try:
        import sounddevice  # noqa: F401
    except OSError as e:
        return f"sounddevice cannot load PortAudio ({e}; tests/system-deps.sh)"
    return None


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    """A private PulseAudio server whose default source is a pipe: yields (env, fifo path)."""
    why = _sounddevice_works()
    if why:
        pytest.skip(why)
    runtime = tmp_path_factory.mktemp("xdg-runtime")
    runtime.chmod(0o700)
    env = asr_env(XDG_RUNTIME_DIR=str(runtime))
    env.pop("PULSE_SERVER", None)
    server = subprocess.Popen(["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--system=false", "-n",
                               "--load=module-native-protocol-unix", "--load=module-null-sink sink_name=nullsink"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode != 0:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.skip("pulseaudio did not start here")
            time.sleep(0.1)
        fifo = runtime / "mic.fifo"
        for command in (["load-module", "module-pipe-source", "source_name=filemic", f"file={fifo}",
                         "format=s16le", f"rate={MIC_RATE_HZ}", "channels=1"], ["set-default-source", "filemic"]):
            subprocess.run(["pactl", *command], env=env, check=True, capture_output=True)
        yield env, fifo
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


class Microphone:
    """Writes int16 PCM into the pipe source at real-time speed from a thread: silence, until `say` queues
    audio (a sound card never pauses, and PulseAudio drops what nobody records)."""

    BLOCK_S = 0.02

    def __init__(self, fifo: Path):
        self.fd = os.open(fifo, os.O_WRONLY)
        self.pending: queue.Queue = queue.Queue()
        self.running = True
        self.thread = threading.Thread(target=self._write, daemon=True)
        self.thread.start()

    def say(self, samples: np.ndarray) -> float:
        """Queue float samples at MIC_RATE_HZ; returns their duration in seconds."""
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
        step = round(self.BLOCK_S * MIC_RATE_HZ)
        for i in range(0, len(pcm), step):
            self.pending.put(pcm[i:i + step])
        return len(pcm) / MIC_RATE_HZ

    def _write(self):
        silence = np.round(quiet(self.BLOCK_S, MIC_RATE_HZ, 3) * 32767).astype("<i2")
        started, written = time.monotonic(), 0
        while self.running:
            try:
                block = self.pending.get_nowait()
            except queue.Empty:
                block = silence
            try:
                os.write(self.fd, block.tobytes())
            except BrokenPipeError:  # the sound server went away
                return
            written += len(block)
            time.sleep(max(0.0, started + written / MIC_RATE_HZ - time.monotonic()))

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        os.close(self.fd)


def test_list_devices_shows_pulse(pulse):
    env, _ = pulse
    run = asr("--list-devices", env=env)
    assert run.returncode == 0, run.stderr
    assert re.search(r"^[ *]\s+\d+\s+\d+\s+\d+\s+pulse$", run.stdout, re.M), run.stdout
    assert "*" in run.stdout  # the default is marked
    assert_clean_stderr(run.stderr)


@needs_model
def test_microphone_through_pulseaudio(pulse, stream_model, final_model):
    """`asr stream --device pulse` hears a clip played into a virtual microphone; Ctrl-C ends it cleanly."""
    env, fifo = pulse
    from asr.audio.load import load_audio
    clip = load_audio(SEVEN, MIC_RATE_HZ)
    mic = Microphone(fifo)
    proc = start_asr(*LIVE, "--device", "pulse", "--format", "jsonl", env=env)
    err = Lines(proc.stderr)
    try:
        err.wait_for(lambda line: line.startswith(LISTENING) or "error" in line, timeout_s=180)
        assert err.seen[-1].startswith(LISTENING), err.seen
        time.sleep(0.5)  # the stream is open: from here on the microphone is heard
        silence = quiet(PAD_S, MIC_RATE_HZ, 4)
        said = np.concatenate([silence, clip, silence, silence])
        spoken_s = mic.say(said)
        time.sleep(spoken_s + 1.0)
        proc.send_signal(signal.SIGINT)
        stdout = proc.stdout.read()
        assert proc.wait(timeout=60) == 0, err.rest()
    finally:
        proc.kill()
        mic.close()
    heard = finals(events(stdout))
    assert heard == python_finals(stream_model, np.concatenate([silence, said]), final_model)  # as the API does
    assert heard == ["seven"]
    closing = assert_clean_stderr(err.rest())
    assert closing and float(closing[1]) >= spoken_s


def test_no_sound_server_gives_one_error_line(tmp_path):
    """No PulseAudio to talk to (or no PortAudio at all): one line, exit 2, before any model is loaded."""
    empty = tmp_path / "runtime"
    empty.mkdir(mode=0o700)
    env = asr_env(XDG_RUNTIME_DIR=str(empty), PULSE_SERVER=f"unix:{empty}/nothing-here")
    probe = subprocess.run([sys.executable, "-c", "import sounddevice as s; print(len(s.query_devices()))"],
                           env=env, capture_output=True, text=True)
    if probe.returncode == 0 and probe.stdout.strip() != "0":  # (no PortAudio: the same one-line error expected)
        pytest.skip("this machine has audio devices even without a sound server")
    for args in ((), ("--list-devices",)):
        run = asr("--model", "no-such-model", *args, env=env)
        assert run.returncode == 2, run.stderr
        assert run.stdout == ""
        assert_clean_stderr(run.stderr, errors=1)
        assert len(run.stderr.splitlines()) == 1
        if not args:
            assert "no audio input device" in run.stderr and "--list-devices" in run.stderr


def test_unknown_device_gives_one_error_line(pulse):
    env, _ = pulse
    run = asr("--model", "no-such-model", "--device", "no-such-microphone", env=env)
    assert run.returncode == 2, run.stderr
    assert_clean_stderr(run.stderr, errors=1)
    assert "no-such-microphone" in run.stderr and "--list-devices" in run.stderr


def test_a_streaming_model_names_its_partner_for_finals_in_live_json(tmp_path):
    from asr.models import CheckpointError, final_model_for
    assert final_model_for("english-stream") == "english-phones"
    assert final_model_for("digits-stream") == "digits"  # digits are finalised by the digits model, not English
    own = tmp_path / "mine"
    shutil.copytree(REPO_ROOT / "asr" / "models" / "digits-stream", own)
    (own / "live.json").unlink()
    assert final_model_for(str(own)) == "english-phones"  # none named: the default model
    (own / "live.json").write_text('{"final_model": "../offline"}')
    assert final_model_for(str(own)) == str(own / "../offline")  # a directory, relative to the streaming model's
    (own / "live.json").write_text('{"final": 1}')
    with pytest.raises(CheckpointError, match="live.json"):
        final_model_for(str(own))
