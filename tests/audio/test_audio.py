"""Loading audio: formats, channels, rates and every kind of bad file, on files written into tmp_path."""
import numpy as np
import pytest
import soundfile

from asr.audio.load import (
    AUDIO_SUFFIXES,
    MODEL_SAMPLE_RATE_HZ,
    AudioError,
    duration_s,
    find_audio_files,
    load_audio,
    resample,
    to_float32,
)


def sine(frequency_hz: float, duration_s: float, sample_rate_hz: int, amplitude: float = 0.5) -> np.ndarray:
    """float32 [samples] sine wave."""
    t = np.arange(round(duration_s * sample_rate_hz)) / sample_rate_hz
    return (amplitude * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)


def peak_frequency_hz(samples: np.ndarray, sample_rate_hz: int) -> float:
    """Frequency of the largest FFT magnitude."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / sample_rate_hz)[np.argmax(spectrum)])


def write(path, samples, sample_rate_hz=MODEL_SAMPLE_RATE_HZ, **kwargs):
    soundfile.write(str(path), samples, sample_rate_hz, **kwargs)
    return path


# subtype, largest quantisation error of a sample in [-1, 1]
LOSSLESS_WAV = [("PCM_16", 2 ** -15), ("PCM_24", 2 ** -23), ("PCM_32", 2 ** -31), ("FLOAT", 0.0),
                ("PCM_U8", 2 ** -7)]


@pytest.mark.parametrize("subtype, tolerance", LOSSLESS_WAV)
def test_wav_subtypes_load_as_float32_mono(tmp_path, subtype, tolerance):
    original = sine(440, 0.5, MODEL_SAMPLE_RATE_HZ)
    path = write(tmp_path / f"{subtype}.wav", original, subtype=subtype)
    assert soundfile.info(str(path)).subtype == subtype

    samples = load_audio(path)

    assert samples.dtype == np.float32 and samples.shape == original.shape
    np.testing.assert_allclose(samples, original, rtol=0, atol=tolerance + 1e-7)


@pytest.mark.parametrize("subtype, tolerance", [("PCM_16", 2 ** -15), ("PCM_24", 2 ** -23)])
def test_flac(tmp_path, subtype, tolerance):
    original = sine(440, 0.5, MODEL_SAMPLE_RATE_HZ)
    samples = load_audio(write(tmp_path / "a.flac", original, format="FLAC", subtype=subtype))
    assert samples.dtype == np.float32
    np.testing.assert_allclose(samples, original, rtol=0, atol=tolerance + 1e-7)


@pytest.mark.parametrize("format_, subtype, suffix", [("OGG", "VORBIS", ".ogg"), ("OGG", "OPUS", ".opus"),
                                                      ("MP3", "MPEG_LAYER_III", ".mp3")])
def test_lossy_formats_keep_length_and_pitch(tmp_path, format_, subtype, suffix):
    if format_ not in soundfile.available_formats() or subtype not in soundfile.available_subtypes(format_):
        pytest.skip(f"this libsndfile cannot write {format_}/{subtype}")
    original = sine(1000, 1.0, MODEL_SAMPLE_RATE_HZ)
    samples = load_audio(write(tmp_path / f"a{suffix}", original, format=format_, subtype=subtype))

    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - len(original)) <= 0.05 * len(original)
    assert peak_frequency_hz(samples, MODEL_SAMPLE_RATE_HZ) == pytest.approx(1000, abs=5)
    # Lossy, but the loudness survives: RMS of a 0.5 sine is 0.354.
    assert np.sqrt(np.mean(samples ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.2)


def test_stereo_44k1_becomes_mono_16k_with_the_same_pitch(tmp_path):
    left = sine(440, 1.0, 44100)
    path = write(tmp_path / "stereo.wav", np.stack([left, left], axis=1), 44100, subtype="PCM_16")

    samples = load_audio(path)

    assert samples.ndim == 1
    assert abs(len(samples) - MODEL_SAMPLE_RATE_HZ) <= 1  # 44100 samples at 44.1 kHz = 1 s
    assert peak_frequency_hz(samples, MODEL_SAMPLE_RATE_HZ) == pytest.approx(440, abs=2)
    assert np.max(np.abs(samples)) == pytest.approx(0.5, abs=0.01)


def test_8k_is_upsampled(tmp_path):
    path = write(tmp_path / "phone.wav", sine(300, 0.75, 8000), 8000, subtype="PCM_16")

    samples = load_audio(path)

    assert len(samples) == 12000  # 0.75 s at 16 kHz
    assert peak_frequency_hz(samples, MODEL_SAMPLE_RATE_HZ) == pytest.approx(300, abs=2)


def test_other_target_rate(tmp_path):
    path = write(tmp_path / "a.wav", sine(300, 1.0, MODEL_SAMPLE_RATE_HZ), subtype="FLOAT")
    assert len(load_audio(path, sample_rate_hz=8000)) == 8000


def test_downmix_is_the_mean_of_channels(tmp_path):
    rng = np.random.default_rng(0)
    channels = rng.uniform(-0.5, 0.5, size=(1000, 3)).astype(np.float32)
    path = write(tmp_path / "three.wav", channels, subtype="FLOAT")

    samples = load_audio(path)

    np.testing.assert_allclose(samples, channels.mean(axis=1), rtol=0, atol=1e-7)


def test_opposite_channels_cancel(tmp_path):
    left = sine(440, 0.1, MODEL_SAMPLE_RATE_HZ)
    path = write(tmp_path / "cancel.wav", np.stack([left, -left], axis=1), subtype="FLOAT")
    assert np.max(np.abs(load_audio(path))) == 0.0


@pytest.mark.parametrize("sample_rate_hz", [MODEL_SAMPLE_RATE_HZ, 44100])
def test_zero_samples_give_an_empty_array(tmp_path, sample_rate_hz):
    path = write(tmp_path / "silence.wav", np.zeros(0, np.float32), sample_rate_hz)
    samples = load_audio(path)
    assert samples.shape == (0,) and samples.dtype == np.float32


def test_str_paths_work(tmp_path):
    path = write(tmp_path / "a.wav", sine(440, 0.1, MODEL_SAMPLE_RATE_HZ))
    assert len(load_audio(str(path))) == 1600


def assert_one_line_error(path, problem):
    """load_audio(path) raises AudioError "<path>: ...problem..." on one line."""
    with pytest.raises(AudioError) as caught:
        load_audio(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and problem in message
    assert "\n" not in message
    return message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert_one_line_error(path, "file is empty")


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are not the samples you are looking for\n" * 20)
    assert_one_line_error(path, "not a readable audio file (")


def test_garbage_bytes(tmp_path):
    path = tmp_path / "noise.flac"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert_one_line_error(path, "not a readable audio file")


def test_truncated_header(tmp_path):
    whole = write(tmp_path / "whole.wav", sine(440, 0.5, MODEL_SAMPLE_RATE_HZ), subtype="PCM_16").read_bytes()
    path = tmp_path / "header.wav"
    path.write_bytes(whole[:20])  # RIFF header and half of the fmt chunk
    assert_one_line_error(path, "not a readable audio file")


@pytest.mark.parametrize("format_, suffix", [("WAV", ".wav"), ("FLAC", ".flac")])
def test_file_cut_in_the_middle_of_its_data(tmp_path, format_, suffix):
    original = sine(440, 1.0, MODEL_SAMPLE_RATE_HZ)
    whole = write(tmp_path / f"whole{suffix}", original, format=format_, subtype="PCM_16").read_bytes()
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(whole[: len(whole) // 2])

    try:
        samples = load_audio(path)
    except AudioError as error:
        assert str(error).startswith(f"{path}: ") and "\n" not in str(error)
    else:  # the readable part, and it is the start of the original
        assert 0 < len(samples) < len(original)
        np.testing.assert_allclose(samples, original[: len(samples)], rtol=0, atol=2 ** -15 + 1e-7)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(tmp_path, bad_value):
    samples = sine(440, 0.1, MODEL_SAMPLE_RATE_HZ)
    samples[100] = bad_value
    path = write(tmp_path / "bad.wav", samples, subtype="FLOAT")
    assert_one_line_error(path, "contains NaN or infinite samples")


def test_float_samples_beyond_full_scale_are_clipped(tmp_path):
    path = write(tmp_path / "loud.wav", np.array([-3.0, -0.25, 0.25, 2.0], np.float32), subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(path), [-1.0, -0.25, 0.25, 1.0])


def test_directory(tmp_path):
    assert_one_line_error(tmp_path, "is a directory")


def test_missing_path(tmp_path):
    assert_one_line_error(tmp_path / "nope.wav", "no such file")


def test_duration_s(tmp_path):
    path = write(tmp_path / "a.flac", sine(440, 1.5, 22050), 22050, format="FLAC")
    assert duration_s(path) == pytest.approx(1.5)
    with pytest.raises(AudioError, match="no such file"):
        duration_s(tmp_path / "missing.wav")
    (tmp_path / "text.wav").write_text("hello")
    with pytest.raises(AudioError, match="not a readable audio file"):
        duration_s(tmp_path / "text.wav")


def test_to_float32():
    np.testing.assert_array_equal(to_float32(np.array([-32768, 0, 16384, 32767], np.int16)),
                                  np.array([-1.0, 0.0, 0.5, 32767 / 32768], np.float32))
    np.testing.assert_array_equal(to_float32(np.array([-2 ** 31, 2 ** 30], np.int32)), [-1.0, 0.5])
    as_float = to_float32(np.array([0.25, -0.75], np.float64))
    assert as_float.dtype == np.float32
    np.testing.assert_array_equal(as_float, [0.25, -0.75])
    for samples in (np.array([1, 2], np.int16), np.array([1, 2], np.int32), np.array([0.5], np.float64)):
        assert to_float32(samples).dtype == np.float32
    with pytest.raises(ValueError, match="unsupported sample type"):
        to_float32(np.array([1, 2], np.uint8))


def test_resample():
    samples = sine(440, 1.0, 48000)
    out = resample(samples, 48000, 16000)
    assert out.dtype == np.float32 and len(out) == 16000
    assert peak_frequency_hz(out, 16000) == pytest.approx(440, abs=2)
    np.testing.assert_array_equal(resample(samples, 48000, 48000), samples)
    assert resample(np.zeros(0, np.float32), 8000, 16000).shape == (0,)


def test_audio_suffixes_match_libsndfile_formats():
    format_of = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".opus": "OGG", ".oga": "OGG", ".mp3": "MP3",
                 ".aiff": "AIFF", ".aif": "AIFF", ".au": "AU", ".caf": "CAF", ".w64": "W64", ".rf64": "RF64"}
    assert set(format_of) == AUDIO_SUFFIXES
    assert {format_of[s] for s in AUDIO_SUFFIXES} <= set(soundfile.available_formats())


def test_find_audio_files(tmp_path):
    corpus = tmp_path / "corpus"
    for name in ["b.wav", "a.FLAC", "readme.txt", "sub/c.mp3", "sub/deeper/d.Opus", "sub/deeper/e.json",
                 "a_sub/z.ogg"]:
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    named = tmp_path / "clip.raw"
    named.write_bytes(b"x")

    files, errors = find_audio_files([named, str(corpus), tmp_path / "missing.wav", tmp_path / "empty",
                                      corpus / "b.wav"])

    # The named file first, whatever its suffix; then the folder sorted; b.wav is not listed twice.
    assert files == [named, corpus / "a.FLAC", corpus / "a_sub" / "z.ogg", corpus / "b.wav",
                     corpus / "sub" / "c.mp3", corpus / "sub" / "deeper" / "d.Opus"]
    assert errors == [f"{tmp_path / 'missing.wav'}: no such file or directory",
                      f"{tmp_path / 'empty'}: no audio files found"]


def test_find_audio_files_keeps_named_order(tmp_path):
    names = [tmp_path / "z.wav", tmp_path / "a.wav", tmp_path / "m.txt"]
    for path in names:
        path.write_bytes(b"x")
    assert find_audio_files(names) == (names, [])
