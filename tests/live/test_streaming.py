"""Streaming: the chunked acoustic model equals the whole-clip model, and StreamingTranscriber's events (partials,
finals, endpoints) on real clips agree with offline transcription."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from asr import load_model
from asr.audio.features import log_mel
from asr.audio.load import load_audio
from asr.audio.running_mean import initial_state, running_means
from asr.config import Config, ModelConfig
from asr.evaluate import with_quiet
from asr.live.streaming import StreamingConfig, StreamingTranscriber
from asr.model.network import NumpyAcousticModel
from asr.model.stream import NotStreamable, StreamingAcoustics
from asr.models import SHIPPED_DIR
from asr.training.features import log_mel as tf_log_mel
from asr.training.keras_model import build_model

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
FSDD = Path(__file__).resolve().parents[3] / "shared" / "data" / "fsdd"
DIGITS = SHIPPED_DIR / "digits-stream"
needs_digits_stream = pytest.mark.skipif(not (DIGITS / "config.json").is_file(), reason="no digits-stream model")
CLIPS = {"fsdd-0_jackson_0.wav": "zero", "fsdd-7_nicolas_1.wav": "seven", "fsdd-9_yweweler_2.wav": "nine"}


def _random_model(cell: str, stack: int, seed: int = 0):
    tf.keras.utils.set_random_seed(seed)
    cfg = dataclasses.replace(Config(), model=ModelConfig(cell=cell, bidirectional=False, layers=2, units=32,
                                                          stack_frames=stack))
    model = build_model(cfg.model, cfg.features.num_mels)
    rng = np.random.default_rng(seed)
    model.set_normalization(rng.normal(-5, 2, 80), rng.uniform(1, 2, 80))
    return cfg, model


def _numpy(model) -> NumpyAcousticModel:
    return NumpyAcousticModel(model.cfg, [w.numpy() for w in model.weights])


def _offline(model, cfg, samples):
    """The whole clip through the Keras model and the tf.signal front end (training's)."""
    feats = tf_log_mel(samples, cfg.features)[None]
    logits, _ = model(feats, tf.shape(feats)[1:2])
    return tf.nn.log_softmax(logits[0]).numpy()


@pytest.mark.parametrize("cell,stack", [("lstm", 4), ("gru", 3), ("rnn", 1)])
def test_chunked_model_equals_whole_clip_model(cell, stack):
    cfg, model = _random_model(cell, stack)
    samples = (np.random.default_rng(1).standard_normal(16000 * 2 + 777) * 0.1).astype(np.float32)
    whole = _numpy(model)(log_mel(samples, cfg.features))  # the whole clip, as files are transcribed
    np.testing.assert_allclose(whole, _offline(model, cfg, samples), atol=2e-4)  # front ends differ <= 1e-4
    acoustics = StreamingAcoustics(_numpy(model), cfg)
    for chunk in (1, 159, 400, 1601, len(samples)):
        stream = acoustics.open()
        parts = [stream.push(samples[i:i + chunk]) for i in range(0, len(samples), chunk)] + [stream.flush()]
        online = np.concatenate(parts)
        assert online.shape == whole.shape
        np.testing.assert_allclose(online, whole, atol=1e-5)


def test_running_mean_streams_as_the_whole_clip_decodes_it():
    """With a running mean, any chunking gives what the whole clip gives with the same per-frame means, and the
    means differ from the training mean's normalisation."""
    cfg, model = _random_model("lstm", 4)
    network = _numpy(model)
    samples = (np.random.default_rng(3).standard_normal(16000 * 3 + 123) * 0.3).astype(np.float32)
    feats = log_mel(samples, cfg.features)
    means, _ = running_means(feats, initial_state(network.mean, 0.01), 0.01, 2.0)
    whole = network(feats, means)
    assert not np.allclose(whole, network(feats), atol=1e-3)
    acoustics = StreamingAcoustics(network, cfg, running_mean_s=2.0)
    for chunk in (160, 1601):
        stream = acoustics.open()
        parts = [stream.push(samples[i:i + chunk]) for i in range(0, len(samples), chunk)] + [stream.flush()]
        np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-4)


def test_reset_forgets_the_state_and_streams_are_independent():
    cfg, model = _random_model("lstm", 4)
    acoustics = StreamingAcoustics(_numpy(model), cfg)
    x = (np.random.default_rng(2).standard_normal(8000) * 0.1).astype(np.float32)
    a, b = acoustics.open(), acoustics.open()
    first = np.concatenate([a.push(x), a.flush()])
    b.push(x[::-1].copy())  # another stream's input must not leak into a
    again = np.concatenate([a.push(x), a.flush()])
    assert not np.allclose(first, again)  # state carried across a flush
    a.reset()
    np.testing.assert_allclose(np.concatenate([a.push(x), a.flush()]), first, atol=1e-5)


def test_bidirectional_model_cannot_stream():
    cfg = Config()
    model = build_model(cfg.model, cfg.features.num_mels)
    with pytest.raises(NotStreamable, match="bidirectional"):
        StreamingAcoustics(_numpy(model), cfg)
    with pytest.raises(ValueError, match="cannot stream"):
        StreamingTranscriber(load_model("digits"))


def _padded(name: str, rate: int = 16000, pad_s: float = 0.6) -> np.ndarray:
    """A sample clip with faint noise around it, as a microphone gives."""
    return with_quiet(load_audio(SAMPLES / name, rate), pad_s, rate)


def _run(stream: StreamingTranscriber, samples: np.ndarray, chunk: int):
    events = []
    for i in range(0, len(samples), chunk):
        events += stream.feed(samples[i:i + chunk])
    return events + stream.finish()


@pytest.fixture(scope="module")
def digits_stream():
    if not (DIGITS / "config.json").is_file():
        pytest.skip("no digits-stream model")
    return load_model("digits-stream")


@needs_digits_stream
@pytest.mark.parametrize("name", sorted(CLIPS))
def test_streaming_final_equals_offline_and_truth(digits_stream, name):
    samples = _padded(name)
    offline = digits_stream.transcribe(samples).text
    for chunk in (320, 1600, len(samples)):
        events = _run(StreamingTranscriber(digits_stream), samples, chunk)
        finals = [e for e in events if e.type == "final"]
        assert " ".join(e.text for e in finals if e.text) == offline == CLIPS[name], (chunk, events)
        assert finals[0].words and finals[0].words[0].word == CLIPS[name]
        assert 0.4 < finals[0].words[0].start_s < finals[0].words[0].end_s < len(samples) / 16000


@needs_digits_stream
def test_int16_input_at_another_rate_gives_the_same_final(digits_stream):
    at8k = _padded("fsdd-7_nicolas_1.wav", rate=8000)
    pcm = np.round(at8k * 32767).astype(np.int16)
    events = _run(StreamingTranscriber(digits_stream, sample_rate=8000), pcm, 256)
    assert [e.text for e in events if e.type == "final"] == ["seven"]


@needs_digits_stream
def test_partials_come_often_and_the_final_soon_after_speech(digits_stream):
    """In audio time (no wall clock): partials at most partial_interval_s apart while the utterance is open, the
    final within endpoint_silence_s + one VAD frame + one chunk of the clip's last loud frame."""
    cfg = StreamingConfig()
    rate, chunk = 16000, 320  # 20 ms chunks
    samples = _padded("fsdd-9_yweweler_2.wav", pad_s=1.0)
    stream = StreamingTranscriber(digits_stream, config=cfg)
    timeline = []  # (audio time at which the event came out, event)
    for i in range(0, len(samples), chunk):
        timeline += [((i + chunk) / rate, e) for e in stream.feed(samples[i:i + chunk])]
    final_time, final = next((t, e) for t, e in timeline if e.type == "final")
    times = [final.start_s] + [t for t, e in timeline if e.type == "partial"] + [final_time]
    assert len(times) >= 3 and max(np.diff(times)) <= cfg.partial_interval_s + chunk / rate + 1e-6
    frame = 160  # 10 ms frames; the last loud one ends the speech
    energy = 10 * np.log10(np.square(samples[:len(samples) // frame * frame].reshape(-1, frame)).mean(1) + 1e-10)
    speech_end = (np.flatnonzero(energy > energy.max() - 35)[-1] + 1) * frame / rate
    latency = final_time - speech_end
    assert 0 < latency <= cfg.endpoint_silence_s + cfg.vad.frame_ms / 1000 + chunk / rate + 1e-6, latency


@needs_digits_stream
def test_silence_and_short_clicks_give_no_events(digits_stream):
    rate = 16000
    rng = np.random.default_rng(0)
    quiet = (rng.standard_normal(rate * 2) * 1e-4).astype(np.float32)
    quiet[rate:rate + 160] += 0.5  # a 10 ms click
    assert _run(StreamingTranscriber(digits_stream), quiet, 800) == []  # no utterance opens
    assert StreamingTranscriber(digits_stream).finish() == []


@needs_digits_stream
def test_several_utterances_in_one_stream(digits_stream):
    samples = np.concatenate([_padded(name) for name in sorted(CLIPS)])
    events = _run(StreamingTranscriber(digits_stream), samples, 640)
    finals = [e for e in events if e.type == "final"]
    assert [e.text for e in finals] == [CLIPS[n] for n in sorted(CLIPS)]
    starts = [e.start_s for e in finals]
    assert starts == sorted(starts) and all(e.end_s > e.start_s for e in finals)
    assert all(e.to_dict()["type"] in ("partial", "final") for e in events)


@needs_digits_stream
def test_fed_after_finish_is_an_error(digits_stream):
    stream = StreamingTranscriber(digits_stream)
    stream.finish()
    with pytest.raises(RuntimeError, match="finished"):
        stream.feed(np.zeros(160, np.float32))
    with pytest.raises(ValueError, match="mono"):
        StreamingTranscriber(digits_stream).feed(np.zeros([2, 2, 2], np.float32))


@pytest.mark.skipif(not FSDD.is_dir(), reason="FSDD corpus not present")
@needs_digits_stream
def test_streaming_matches_offline_on_fsdd_test_takes(digits_stream):
    """50 real test clips, each padded with silence and streamed in 40 ms chunks: the final is the offline
    transcript of the same padded audio (the same model and decoding), clip by clip."""
    files = sorted((FSDD / "recordings").glob("*_[0-4].wav") if (FSDD / "recordings").is_dir()
                   else FSDD.rglob("*_[0-4].wav"))[::10][:50]
    assert len(files) >= 20
    mismatches = []
    for path in files:
        clip = load_audio(path, 16000)
        samples = with_quiet(clip, 0.5, 16000)
        offline = digits_stream.transcribe(samples).text
        online = " ".join(e.text for e in _run(StreamingTranscriber(digits_stream), samples, 640)
                          if e.type == "final" and e.text)
        if online != offline:
            mismatches.append((path.name, offline, online))
    assert len(mismatches) <= len(files) // 25, mismatches


@needs_digits_stream
def test_evaluate_by_streaming_scores_the_finals(tmp_path, digits_stream):
    """`asr evaluate --streaming --pad-s`: each clip streamed with quiet around it; the summary says so and the
    recognised text is the streamed finals."""
    import json

    from asr.evaluate import evaluate
    manifest = tmp_path / "digits.jsonl"
    manifest.write_text("".join(json.dumps({"id": n, "audio": str(SAMPLES / n), "text": t, "duration_s": 0.5})
                                + "\n" for n, t in sorted(CLIPS.items())))
    summary = evaluate(digits_stream, manifest, tmp_path / "out", pad_s=0.5, streaming=True, log=lambda _: None)
    assert summary["streaming"] is True and summary["pad_s"] == 0.5 and summary["utterances"] == 3
    hyps = [line.split("\thyp=")[1] for line in (tmp_path / "out" / "recogs.txt").read_text().splitlines()]
    for i, name in enumerate(sorted(CLIPS)):  # the text a StreamingTranscriber gives for that padded clip
        padded = with_quiet(load_audio(SAMPLES / name, 16000), 0.5, 16000, seed=i)
        expected = " ".join(e.text for e in _run(StreamingTranscriber(digits_stream), padded, 640)
                            if e.type == "final" and e.text)
        assert hyps[i] == expected
