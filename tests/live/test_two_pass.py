"""Two-pass streaming: partials from the streaming model, finals from an offline model on each utterance's audio.

The real shipped models on real clips (english-stream for partials, the default english-phones for finals), and
stand-in final models where a test needs to control what a final says or when it is ready.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from asr import load_model
from asr.audio.load import load_audio
from asr.evaluate import with_quiet
from asr.live.finals import SampleBuffer
from asr.live.streaming import StreamingConfig, StreamingTranscriber
from asr.models import SHIPPED_DIR
from asr.recognizer import Transcript

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
RATE = 16000
CHUNK = 640  # 40 ms
ENGLISH = ("librispeech-2428-83699-0011.opus", "librispeech-6241-61946-0010.opus")
needs = pytest.mark.skipif(not all((SHIPPED_DIR / m / "config.json").is_file()
                                   for m in ("english-stream", "english-phones", "digits-stream")),
                           reason="the shipped english-stream, english-phones and digits-stream models are needed")


@pytest.fixture(scope="module")
def stream_model():
    return load_model("english-stream")


@pytest.fixture(scope="module")
def final_model():
    return load_model()


@pytest.fixture(scope="module")
def digits_stream():
    return load_model("digits-stream")


def run(stream: StreamingTranscriber, samples: np.ndarray, chunk: int = CHUNK, timeline: list | None = None):
    events = []
    for i in range(0, len(samples), chunk):
        out = stream.feed(samples[i:i + chunk])
        events += out
        if timeline is not None:
            timeline += [(i + chunk, e) for e in out]
    return events + stream.finish()


def two_sentences() -> np.ndarray:
    """Two LibriSpeech sample clips with 1.5 s of faint noise around each: two utterances."""
    return np.concatenate([with_quiet(load_audio(SAMPLES / name, RATE), 1.5, RATE, seed=i)
                           for i, name in enumerate(ENGLISH)])


@needs
def test_finals_are_the_offline_transcript_of_each_utterance(stream_model, final_model):
    samples = two_sentences()
    cfg = StreamingConfig()
    events = run(StreamingTranscriber(stream_model, RATE, cfg, final_model=final_model), samples)
    finals = [e for e in events if e.type == "final"]
    assert len(finals) == 2, [(e.type, e.text) for e in events]
    assert any(e.type == "partial" for e in events)
    for final in finals:
        first = round(max(final.start_s - cfg.lead_s, 0) * RATE)
        utterance = samples[first:round(final.end_s * RATE)]
        offline = final_model.transcribe(utterance, sample_rate=RATE)
        assert final.text == offline.text and final.text
        assert [w.word for w in final.words] == [w.word for w in offline.words]
        for w, o in zip(final.words, offline.words):  # offline times offset by where the utterance's audio began
            assert w.start_s == pytest.approx(min(max(o.start_s + first / RATE, final.start_s), final.end_s))
            assert final.start_s <= w.start_s <= w.end_s <= final.end_s
            assert 0 <= w.confidence <= 1


@needs
def test_one_pass_finals_are_the_streaming_models_and_inside_their_utterance(stream_model, final_model):
    samples = two_sentences()
    one = [e for e in run(StreamingTranscriber(stream_model, RATE), samples) if e.type == "final"]
    two = [e for e in run(StreamingTranscriber(stream_model, RATE, final_model=final_model), samples)
           if e.type == "final"]
    assert [e.start_s for e in one] == [e.start_s for e in two]
    assert [e.text for e in one] != [e.text for e in two]  # the first pass is a different (weaker) model
    for final in one:
        assert final.text and all(final.start_s <= w.start_s <= w.end_s <= final.end_s for w in final.words)


@needs
def test_an_executor_gives_the_same_finals_in_order(stream_model, final_model):
    samples = two_sentences()
    inline = run(StreamingTranscriber(stream_model, RATE, final_model=final_model), samples)
    with ThreadPoolExecutor(1) as pool:
        threaded = run(StreamingTranscriber(stream_model, RATE, final_model=final_model, executor=pool), samples)
    assert [e for e in threaded if e.type == "final"] == [e for e in inline if e.type == "final"]
    assert [e for e in threaded if e.type == "partial"] == [e for e in inline if e.type == "partial"]


class HeldFinals:
    """A final model that says "word N" for utterance N, each only once the test releases it."""

    sample_rate_hz = RATE

    def __init__(self, empty=()):
        self.release = threading.Event()
        self.lengths: list[int] = []
        self.empty = set(empty)

    def transcribe(self, audio, sample_rate=None):
        self.release.wait(60)
        n = len(self.lengths)
        self.lengths.append(len(audio))
        if n in self.empty:
            return Transcript("", len(audio) / RATE, ())
        from asr.decoding.ctc import Word
        return Transcript(f"word {n}", len(audio) / RATE, (Word("word", 0.0, 0.2, 0.9), Word(str(n), 0.2, 10.0, 0.8)))


def tones(*spans) -> np.ndarray:
    """Faint noise with a loud 440 Hz tone over each (start_s, end_s) span, in "syllables" of 180 ms with 20 ms
    of quiet between (so that the detector's noise floor stays low): speech to the energy detector."""
    end = max(e for _, e in spans) + 1.0
    t = np.arange(round(end * RATE)) / RATE
    out = np.random.default_rng(0).standard_normal(len(t)).astype(np.float32) * 1e-4
    for start, stop in spans:
        inside = (t >= start) & (t < stop) & ((t - start) % 0.2 < 0.18)
        out[inside] += 0.3 * np.sin(2 * np.pi * 440 * t[inside]).astype(np.float32)
    return out


@needs
def test_partials_go_on_while_a_final_is_decoded(digits_stream):
    held = HeldFinals()
    samples = tones((0.5, 1.5), (3.0, 4.0))
    with ThreadPoolExecutor(1) as pool:
        stream = StreamingTranscriber(digits_stream, RATE, final_model=held, executor=pool)
        timeline = []
        for i in range(0, len(samples), CHUNK):
            timeline += [(i + CHUNK, e) for e in stream.feed(samples[i:i + CHUNK])]
        assert [e.type for _, e in timeline if e.type == "final"] == []  # both held
        second = [e for _, e in timeline if e.type == "partial" and e.start_s > 2]
        assert len(second) >= 3  # the second utterance's partials came while the first final was held
        assert stream.next_pending_final() is not None and stream.poll() == []
        held.release.set()
        finals = stream.finish()
    assert [e.text for e in finals] == ["word 0", "word 1"]
    for e in finals:  # words timed past the utterance are kept inside it
        assert e.words[-1].end_s == e.end_s and e.start_s <= e.words[0].start_s


@needs
def test_an_utterance_with_no_words_gives_no_final(digits_stream):
    held = HeldFinals(empty={0})
    held.release.set()
    events = run(StreamingTranscriber(digits_stream, RATE, final_model=held), tones((0.5, 1.5), (3.0, 4.0)))
    finals = [e for e in events if e.type == "final"]
    assert len(held.lengths) == 2 and [e.text for e in finals] == ["word 1"]
    assert all(e.text for e in events if e.type == "final")


@needs
def test_a_long_utterance_is_cut_at_its_pause_and_the_buffer_stays_bounded(digits_stream):
    """30 s of "speech" with one 60 ms gap at 12 s (shorter than an endpoint): cut there, at most
    max_utterance_s of audio decoded at once, and the buffer never holds much more."""
    held = HeldFinals()
    held.release.set()
    cfg = StreamingConfig()
    samples = tones((0.5, 12.0), (12.06, 30.5))
    stream = StreamingTranscriber(digits_stream, RATE, cfg, final_model=held)
    most = 0
    events = []
    for i in range(0, len(samples), CHUNK):
        events += stream.feed(samples[i:i + CHUNK])
        most = max(most, len(stream.audio))
    events += stream.finish()
    finals = [e for e in events if e.type == "final"]
    assert len(finals) == 2
    assert 12.0 <= finals[0].end_s <= 12.1 and finals[1].start_s == finals[0].end_s
    assert max(held.lengths) <= (cfg.max_utterance_s + cfg.lead_s) * RATE
    assert most <= (cfg.max_utterance_s + cfg.lead_s) * RATE + 2 * CHUNK
    assert sum(held.lengths) <= len(samples)  # no audio decoded twice
    idle = StreamingTranscriber(digits_stream, RATE, cfg, final_model=held)
    for i in range(0, 10 * RATE, CHUNK):
        idle.feed(samples[:CHUNK] * 0)
    assert len(idle.audio) <= cfg.lead_s * RATE + CHUNK  # silence: only the lead is kept


def test_sample_buffer_slices_and_drops_across_chunks():
    buf = SampleBuffer()
    for k in range(5):
        buf.append(np.arange(k * 10, k * 10 + 10, dtype=np.float32))
    np.testing.assert_array_equal(buf.slice(7, 23), np.arange(7, 23))
    buf.drop_until(15)
    assert (buf.first, buf.end, len(buf)) == (15, 50, 35)
    np.testing.assert_array_equal(buf.slice(0, 18), np.arange(15, 18))  # clipped to what is held
    buf.drop_until(100)
    assert len(buf) == 0 and buf.slice(0, 100).size == 0
