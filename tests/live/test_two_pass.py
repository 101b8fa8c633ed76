"""Two-pass streaming: partials from the streaming model, finals from an offline model on each utterance's audio.

The real shipped models on real clips (english-stream for partials, the default english-phones for finals), and
stand-in final models where a test needs to control what a final says or when it is ready.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from asr import load_model
from asr.audio.load import load_audio
from asr.decoding.ctc import Word
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
    """Without early finals, each final is decoded from its utterance's audio up to the endpoint (end_s)."""
    samples = two_sentences()
    cfg = StreamingConfig(early_final_s=None)
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
@pytest.mark.parametrize("workers", [0, 1])
def test_a_long_utterance_is_cut_at_its_pause_and_the_buffer_stays_bounded(digits_stream, workers):
    """30 s of "speech" with one 60 ms gap at 12 s (shorter than an endpoint): cut there, at most
    max_utterance_s of audio decoded at once, and the buffer never holds much more; the same with an executor
    (the second part's final begun at its pause)."""
    held = HeldFinals()
    held.release.set()
    cfg = StreamingConfig()
    samples = tones((0.5, 12.0), (12.06, 30.5))
    with ThreadPoolExecutor(workers or 1) as pool:
        stream = StreamingTranscriber(digits_stream, RATE, cfg, final_model=held, executor=pool if workers else None)
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


# -- finals begun at a pause (StreamingConfig.early_final_s) ----------------------------------------------------


def finals_of(events) -> list:
    return [e for e in events if e.type == "final"]


def feed(stream: StreamingTranscriber, samples: np.ndarray) -> list:
    """Feed `samples` in CHUNK pieces; the events that came out."""
    return [e for i in range(0, len(samples), CHUNK) for e in stream.feed(samples[i:i + CHUNK])]


class Recording:
    """A final model that keeps the audio of each decode and hands it on to `model`."""

    def __init__(self, model):
        self.model, self.sample_rate_hz, self.audio = model, model.sample_rate_hz, []

    def transcribe(self, audio, sample_rate=None):
        self.audio.append(np.array(audio))
        return self.model.transcribe(audio, sample_rate=sample_rate)


class Decodes:
    """A final model that says "word N" for its Nth decode (from 0), its last word ending with the audio it was
    given. It keeps each decode's audio and the order in which decodes returned; decode N waits until `gates[N]`
    is set, if there is one."""

    sample_rate_hz = RATE

    def __init__(self, gates: dict | None = None):
        self.gates = gates or {}
        self.audio: list[np.ndarray] = []
        self.returned: list[int] = []
        self._lock = threading.Lock()

    def transcribe(self, audio, sample_rate=None):
        with self._lock:
            n = len(self.audio)
            self.audio.append(np.array(audio))
        if n in self.gates:
            assert self.gates[n].wait(60)
        end = len(audio) / RATE
        self.returned.append(n)
        return Transcript(f"word {n}", end, (Word("word", 0.0, 0.1, 0.9), Word(str(n), 0.1, end, 0.8)))


def wait_until(condition) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def decode_timeline(digits_stream, cfg: StreamingConfig):
    """One utterance of tones (0.5-1.5 s) fed chunk by chunk to a stream with a 1-worker executor, drained after
    each chunk: (audio time of the chunk after which the decode had begun, of the chunk after which the final
    came out, whether it came out of feed() itself, the final, each decode's audio)."""
    model = Decodes()
    samples = tones((0.5, 1.5))
    began = came = from_feed = final = None
    with ThreadPoolExecutor(1) as pool:
        stream = StreamingTranscriber(digits_stream, RATE, cfg, final_model=model, executor=pool)
        for i in range(0, len(samples), CHUNK):
            out = stream.feed(samples[i:i + CHUNK])
            pool.submit(lambda: None).result(60)  # every decode begun so far is done
            now = (i + CHUNK) / RATE
            began = began or (now if model.audio else None)
            for e in finals_of(out + stream.poll()):
                final, came, from_feed = e, now, e in out
        assert stream.finish() == []
    return began, came, from_feed, final, model.audio


@needs
def test_a_final_begun_at_its_pause_is_out_at_the_endpoint(digits_stream):
    """The decode begins endpoint_silence_s - early_final_s before the endpoint, on the audio up to the pause; the
    final is that decode, out of the feed() that reaches the endpoint, with word times in stream seconds."""
    cfg = StreamingConfig()
    began, came, from_feed, final, audio = decode_timeline(digits_stream, cfg)
    ahead_s = cfg.endpoint_silence_s - cfg.early_final_s
    assert len(audio) == 1 and final.text == "word 0" and from_feed
    assert came - began >= ahead_s - CHUNK / RATE - 1e-6
    assert came - CHUNK / RATE <= final.end_s <= came
    first = round(max(final.start_s - cfg.lead_s, 0) * RATE)
    pause_s = (first + len(audio[0])) / RATE
    np.testing.assert_array_equal(audio[0], tones((0.5, 1.5))[first:first + len(audio[0])])
    assert pause_s == pytest.approx(final.end_s - ahead_s, abs=cfg.vad.frame_ms / 1000 + 1e-6)
    assert final.words[-1].end_s == pytest.approx(pause_s)  # the decode's time, offset to the stream's
    assert all(final.start_s <= w.start_s <= w.end_s <= final.end_s for w in final.words)


@needs
def test_without_early_finals_the_decode_begins_at_the_endpoint(digits_stream):
    """early_final_s off: nothing is decoded before the endpoint, and the final's audio runs to its end_s."""
    for off in (None, 0):
        began, came, _, final, audio = decode_timeline(digits_stream, StreamingConfig(early_final_s=off))
        assert len(audio) == 1 and final.text == "word 0" and began == came
        first = round(max(final.start_s - StreamingConfig().lead_s, 0) * RATE)
        assert first + len(audio[0]) == round(final.end_s * RATE)


@needs
def test_a_final_begun_at_its_pause_is_the_final_decoded_at_its_endpoint(stream_model, final_model):
    """Real clips: the finals of a stream with an executor (decodes begun at pauses) are those of one without
    (decoded at the endpoints), from each utterance's audio up to early_final_s into its pause, and span the same
    utterances as with early finals off. (Their words may differ from those: the bidirectional final model hears
    endpoint_silence_s - early_final_s less of the pause; here "in" comes and goes in the second sentence.)"""
    samples = two_sentences()
    cfg = StreamingConfig()
    at_endpoints, at_pauses = Recording(final_model), Recording(final_model)
    inline = finals_of(run(StreamingTranscriber(stream_model, RATE, cfg, final_model=at_endpoints), samples))
    with ThreadPoolExecutor(1) as pool:
        early = finals_of(run(StreamingTranscriber(stream_model, RATE, cfg, final_model=at_pauses, executor=pool),
                              samples))
    off = finals_of(run(StreamingTranscriber(stream_model, RATE, replace(cfg, early_final_s=None),
                                             final_model=final_model), samples))
    assert len(early) == 2 and early == inline and len(at_endpoints.audio) == 2
    assert [(e.start_s, e.end_s) for e in early] == [(e.start_s, e.end_s) for e in off]
    assert early[0].text == off[0].text
    for final, audio in zip(early, at_endpoints.audio):
        assert any(np.array_equal(audio, a) for a in at_pauses.audio)
        first = round(max(final.start_s - cfg.lead_s, 0) * RATE)
        np.testing.assert_array_equal(audio, samples[first:first + len(audio)])
        assert (first + len(audio)) / RATE == pytest.approx(final.end_s - cfg.endpoint_silence_s + cfg.early_final_s,
                                                             abs=cfg.vad.frame_ms / 1000 + 1e-6)
        offline = final_model.transcribe(audio, sample_rate=RATE)
        assert final.text == offline.text and [w.word for w in final.words] == [w.word for w in offline.words]
        for w, o in zip(final.words, offline.words):
            assert w.start_s == pytest.approx(min(max(o.start_s + first / RATE, final.start_s), final.end_s))


@needs
def test_speech_after_a_pause_drops_its_decode_and_the_final_covers_the_whole_utterance(digits_stream):
    """One utterance with two 0.4 s pauses (past early_final_s, short of the endpoint). The decode begun at the
    first is running when speech comes back: it runs on, ignored. The one begun at the second waits behind it and
    is cancelled: it never runs. The final is decoded once the whole utterance has ended, from the audio a stream
    without an executor decodes."""
    cfg = StreamingConfig()
    samples = tones((0.5, 1.5), (1.9, 2.8), (3.2, 4.0))
    inline = Decodes()
    alone = finals_of(run(StreamingTranscriber(digits_stream, RATE, cfg, final_model=inline), samples))
    gate = threading.Event()
    model = Decodes({0: gate})
    split = round(1.85 * RATE) // CHUNK * CHUNK  # 0.35 s into the first pause
    with ThreadPoolExecutor(1) as pool:
        stream = StreamingTranscriber(digits_stream, RATE, cfg, final_model=model, executor=pool)
        events = feed(stream, samples[:split])
        wait_until(lambda: len(model.audio) == 1)
        events += feed(stream, samples[split:])
        gate.set()
        events += stream.finish()
    finals = finals_of(events)
    assert len(alone) == len(finals) == 1 and len(inline.audio) == 1
    assert len(model.audio) == 2 and finals[0].text == "word 1"  # decode 0 ignored, the second pause's never ran
    np.testing.assert_array_equal(model.audio[1], inline.audio[0])
    assert len(model.audio[0]) < 1.6 * RATE < 3.8 * RATE < len(model.audio[1])
    assert finals[0].start_s == alone[0].start_s == pytest.approx(0.5, abs=0.05)
    assert finals[0].end_s == alone[0].end_s == pytest.approx(4.0 + cfg.endpoint_silence_s, abs=0.05)
    assert [(w.start_s, w.end_s) for w in finals[0].words] == [(w.start_s, w.end_s) for w in alone[0].words]


@needs
def test_finals_begun_at_pauses_come_out_in_stream_order(digits_stream):
    """Three utterances on a 3-worker executor, the first one's decode held until the two others have returned:
    no final comes out before it, then all three, in order."""
    gate = threading.Event()
    model = Decodes({0: gate})
    with ThreadPoolExecutor(3) as pool:
        stream = StreamingTranscriber(digits_stream, RATE, final_model=model, executor=pool)
        events = feed(stream, tones((0.5, 1.2), (2.5, 3.2), (4.5, 5.2)))
        wait_until(lambda: sorted(model.returned) == [1, 2])
        events += stream.poll()
        assert finals_of(events) == [] and stream.next_pending_final() is not None
        gate.set()
        finals = stream.finish()
    assert model.returned == [1, 2, 0] and len(model.audio) == 3
    assert [e.text for e in finals] == ["word 0", "word 1", "word 2"]
    assert [e.start_s for e in finals] == pytest.approx([0.5, 2.5, 4.5], abs=0.05)
    assert all(a.end_s < b.start_s for a, b in zip(finals, finals[1:]))


def test_early_final_s_is_off_or_below_the_endpoint():
    for ok in (None, 0, 0.25, 0.59):
        StreamingConfig(early_final_s=ok)
    for bad in (0.6, 1.0, -0.1):
        with pytest.raises(ValueError, match="early_final_s"):
            StreamingConfig(early_final_s=bad)


@needs
def test_a_cut_in_a_pause_drops_the_pauses_decode(digits_stream):
    """An utterance that reaches max_utterance_s in a pause past early_final_s is cut in that pause: the decode
    begun at the pause is dropped, the first part's final is decoded up to the cut, and the rest goes on to a
    final of its own, begun at its own pause."""
    cfg = StreamingConfig()
    model = Decodes()
    with ThreadPoolExecutor(1) as pool:
        stream = StreamingTranscriber(digits_stream, RATE, cfg, final_model=model, executor=pool)
        finals = finals_of(run(stream, tones((0.5, 20.1), (20.6, 23.0))))
    assert len(finals) == 2 and finals[0].end_s == finals[1].start_s and 20.1 <= finals[0].end_s <= 20.6
    lengths = [len(a) for a in model.audio]
    first = round(max(finals[0].start_s - cfg.lead_s, 0) * RATE)
    up_to_cut = round(finals[0].end_s * RATE) - first
    assert up_to_cut in lengths and finals[0].text == f"word {lengths.index(up_to_cut)}"
    assert finals[1].text == f"word {len(lengths) - 1}"
    pause_s = finals[1].start_s + lengths[-1] / RATE
    assert pause_s == pytest.approx(finals[1].end_s - cfg.endpoint_silence_s + cfg.early_final_s,
                                    abs=cfg.vad.frame_ms / 1000 + 1e-6)
