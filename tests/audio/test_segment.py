"""Long audio: the energy detector, cutting at pauses in bounded memory, block-wise reading, and transcription
of recordings longer than one segment with continuous word times."""
import numpy as np
import pytest
import soundfile

from asr.audio.load import load_audio, stream_audio
from asr.audio.segment import SegmentConfig, split_array, split_at_pauses
from asr.audio.vad import EnergyVad, VadConfig

RATE = 16000


def bursts(layout, seed=0):
    """Speech stand-ins (noise at up to -20 dBFS whose loudness rises and falls four times a second, as
    syllables do) and near-silent gaps at -70 dBFS: layout = [(seconds, loud)]."""
    rng = np.random.default_rng(seed)

    def part(seconds, loud):
        n = round(seconds * RATE)
        if not loud:
            return rng.normal(0, 3e-4, n)
        envelope = 0.1 * (0.03 + 0.97 * np.abs(np.sin(2 * np.pi * 2.0 * np.arange(n) / RATE)))
        return rng.normal(0, 1, n) * envelope
    parts = [part(s, loud).astype(np.float32) for s, loud in layout]
    edges = np.cumsum([0] + [round(s * RATE) for s, _ in layout])
    return np.concatenate(parts), [(edges[i] / RATE, edges[i + 1] / RATE) for i, (_, loud) in enumerate(layout)
                                   if not loud]


def test_vad_marks_loud_frames_and_not_the_quiet_ones():
    audio, gaps = bursts([(1.0, False), (2.0, True), (1.0, False), (1.5, True), (1.0, False)])
    vad = EnergyVad(RATE)
    speech = vad(audio)
    t = (np.arange(len(speech)) + 0.5) * vad.frame_s
    in_gap = np.zeros(len(t), bool)
    for a, b in gaps:
        in_gap |= (t > a + vad.frame_s) & (t < b - vad.frame_s)
    assert not speech[in_gap].any()
    loud = ~in_gap & (t > 1.05) & (t < 5.45) & ~((t > 2.95) & (t < 4.05))
    assert speech[loud].mean() > 0.5  # the syllable peaks at least


def test_vad_gives_the_same_decisions_for_any_block_sizes():
    audio, _ = bursts([(0.7, False), (1.3, True), (0.9, False), (2.2, True)], seed=1)
    whole = EnergyVad(RATE)(audio)
    vad, pieces, i = EnergyVad(RATE), [], 0
    for size in [1, 479, 480, 481, 5000, 3, 16000] * 10:
        pieces.append(vad(audio[i:i + size]))
        i += size
    pieces.append(vad(audio[i:]))
    assert np.array_equal(np.concatenate(pieces), whole)


def test_silence_is_never_speech():
    assert not EnergyVad(RATE)(np.zeros(3 * RATE, np.float32)).any()
    assert not EnergyVad(RATE, VadConfig(min_speech_db=-55))(np.full(RATE, 1e-3, np.float32)).any()


def test_segments_are_cut_inside_pauses_and_cover_the_audio():
    layout = [(0.5, False)] + [(s, True) if i % 2 == 0 else (0.6, False)
                               for i, s in enumerate([6, 0, 7, 0, 5, 0, 8, 0, 6, 0, 9, 0, 4])]
    audio, gaps = bursts(layout)
    cfg = SegmentConfig(max_segment_s=20.0, min_segment_s=5.0)
    segments = list(split_array(audio, RATE, cfg))
    assert np.array_equal(np.concatenate([s.samples for s in segments]), audio)
    assert len(segments) >= 3
    for a, b in zip(segments, segments[1:]):
        assert b.start_s == pytest.approx(a.end_s)
        assert any(g0 < b.start_s < g1 for g0, g1 in gaps), f"cut at {b.start_s:.2f} s is not in a pause"
    assert all(s.end_s - s.start_s <= cfg.max_segment_s + 1e-6 for s in segments)
    assert all(s.has_speech for s in segments)


def test_without_pauses_segments_still_end_by_the_maximum_length():
    audio, _ = bursts([(61.0, True)])
    segments = list(split_array(audio, RATE, SegmentConfig(max_segment_s=10.0, min_segment_s=4.0)))
    assert sum(len(s.samples) for s in segments) == len(audio)
    assert all(len(s.samples) <= 10 * RATE for s in segments)
    assert len(segments) >= 7


def test_silent_segments_are_flagged():
    audio, _ = bursts([(30.0, False), (3.0, True), (30.0, False)])
    segments = list(split_array(audio, RATE, SegmentConfig(max_segment_s=12.0, min_segment_s=4.0)))
    flags = [(round(s.start_s), s.has_speech) for s in segments]
    assert any(flag for _, flag in flags) and not all(flag for _, flag in flags)
    for s in segments:
        if s.has_speech:
            assert s.start_s < 33.0 and s.end_s > 30.0


def test_block_size_does_not_change_the_cuts():
    audio, _ = bursts([(s, i % 2 == 0) for i, s in enumerate([5, 0.5, 9, 0.4, 12, 0.8, 7, 0.3, 10])], seed=3)
    cfg = SegmentConfig(max_segment_s=15.0, min_segment_s=5.0)
    a = [s.start_s for s in split_array(audio, RATE, cfg, block_s=10.0)]
    b = [s.start_s for s in split_array(audio, RATE, cfg, block_s=0.77)]
    c = [s.start_s for s in split_at_pauses([audio], RATE, cfg)]
    assert a == b == c


def test_bad_segment_lengths_are_rejected():
    with pytest.raises(ValueError, match="min_segment_s"):
        list(split_array(np.zeros(RATE, np.float32), RATE, SegmentConfig(max_segment_s=5.0, min_segment_s=5.0)))


@pytest.mark.parametrize("block_s", [0.37, 10.0])
def test_stream_audio_matches_load_audio(samples_dir, block_s):
    for path in sorted(samples_dir.glob("*.*")):
        if path.suffix in (".wav", ".opus"):
            whole = load_audio(path)
            blocks = list(stream_audio(path, block_s=block_s))
            assert all(len(b) <= round(block_s * 48000) + 64 for b in blocks)
            assert np.array_equal(np.concatenate(blocks), whole), path.name


def test_stream_audio_reports_bad_files_like_load_audio(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    with pytest.raises(Exception, match="bad.wav: not a readable audio file"):
        list(stream_audio(bad))
    nan = tmp_path / "nan.wav"
    soundfile.write(nan, np.array([0.0, np.nan] * 100, np.float32), RATE, subtype="FLOAT")
    with pytest.raises(Exception, match="nan.wav: contains NaN"):
        list(stream_audio(nan))


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory, samples_dir):
    """About 75 s: the three LibriSpeech samples, six times over, with 0.6 s pauses; as a WAV file and samples."""
    clips = [load_audio(p) for p in sorted(samples_dir.glob("librispeech-*.opus"))]
    pause = np.zeros(round(0.6 * RATE), np.float32)
    audio = np.concatenate([np.concatenate([c, pause]) for c in clips * 6])
    path = tmp_path_factory.mktemp("long") / "long.wav"
    soundfile.write(path, audio, RATE, subtype="FLOAT")
    return path, audio


def test_a_long_file_is_transcribed_in_segments_with_continuous_times(tiny_model_dir, long_recording):
    from asr.transcribe import Transcriber
    path, audio = long_recording
    model = Transcriber(tiny_model_dir)
    calls = []
    result = model.transcribe(path, progress=lambda done, total: calls.append((done, total)))
    assert result.duration_s == pytest.approx(len(audio) / RATE)
    assert len(calls) >= 3 and calls[-1][0] == pytest.approx(len(audio) / RATE)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    starts = [w.start_s for w in result.words]
    assert starts == sorted(starts) and result.words[-1].end_s <= result.duration_s
    assert result.words[-1].start_s > 60.0  # times run on across segments, not restarting at zero
    assert result.text == " ".join(w.word for w in result.words)
    same = model.transcribe(audio)  # the array path cuts at the same places
    assert same.text == result.text
    assert [w.start_s for w in same.words] == starts


def test_the_tiny_model_hears_its_clip_in_every_segment(tiny_model_dir, samples_dir):
    """The tiny model overfit 'all night it had been blowing and raining' (2.6 s): twelve copies with pauses
    make about 40 s, more than one segment, and every copy must still be heard."""
    from asr.transcribe import Transcriber
    clip = load_audio(samples_dir / "librispeech-2428-83699-0011.opus")
    audio = np.concatenate([np.concatenate([clip, np.zeros(round(0.8 * RATE), np.float32)])] * 12)
    assert len(list(split_array(audio, RATE))) >= 2
    result = Transcriber(tiny_model_dir).transcribe(audio)
    assert result.text.count("blowing") >= 11, result.text
