"""Load any audio file as float32 mono at the model rate, with one-line errors for files that cannot be used.

Reading goes through libsndfile (the `soundfile` package), resampling through libsoxr (the `soxr` package).
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile
import soxr

MODEL_SAMPLE_RATE_HZ = 16000
MIN_SAMPLE_RATE_HZ = 4000  # below this a recording cannot hold the speech band (telephone audio is 8 kHz)
# Suffixes of the container formats libsndfile reads; keep in sync with soundfile.available_formats().
AUDIO_SUFFIXES = frozenset({
    ".wav", ".flac", ".ogg", ".opus", ".oga", ".mp3", ".aiff", ".aif", ".au", ".caf", ".w64", ".rf64",
})
RESAMPLE_QUALITY = "HQ"

_READ_ERRORS = (soundfile.SoundFileError, RuntimeError, OSError, ValueError)
_PCM_SCALES = {np.dtype(np.int16): 2.0 ** 15, np.dtype(np.int32): 2.0 ** 31}


class AudioWarning(UserWarning):
    """Audio that is used, but not as given: float samples outside [-1, 1], clipped; a WAV file shorter than its
    header says (the samples that are there are used)."""


def check_sample_rate(rate_hz, what="sample_rate") -> None:
    """ValueError unless `rate_hz` is a whole number of at least MIN_SAMPLE_RATE_HZ."""
    if isinstance(rate_hz, bool) or not isinstance(rate_hz, (int, np.integer)) or rate_hz < MIN_SAMPLE_RATE_HZ:
        raise ValueError(f"{what} {rate_hz!r} Hz is too low to hold speech or not a whole number of Hz "
                         f"(at least {MIN_SAMPLE_RATE_HZ} Hz)")


def clipped(samples: np.ndarray, where: str) -> np.ndarray:
    """Samples clipped to [-1, 1], with an AudioWarning naming `where` when any lay outside."""
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    if peak > 1.0:
        import warnings
        warnings.warn(f"{where}: float samples reach {peak:.3g}, outside [-1, 1]; clipped (scale them to [-1, 1])",
                      AudioWarning, stacklevel=3)
        return np.clip(samples, -1.0, 1.0)
    return samples


class AudioError(Exception):
    """An audio file that cannot be used; the message is one line, "<path>: <problem>"."""

    def __init__(self, path, problem: str):
        problem = " ".join(str(problem).split())
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def load_audio(path, sample_rate_hz: int = MODEL_SAMPLE_RATE_HZ) -> np.ndarray:
    """Samples of an audio file as float32 mono [samples] in [-1, 1] at `sample_rate_hz`.

    Any format libsndfile reads, integer or float; channels are averaged and other rates resampled.
    A file with no samples gives an empty array. Raises AudioError for a missing path, a directory,
    an empty or unreadable file, and for NaN or infinite samples.
    """
    if sample_rate_hz <= 0:
        raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
    _check_is_file(path)
    return _read_whole(str(path), path, sample_rate_hz)


def wav_truncation(head: bytes, size: int) -> tuple[float, float] | None:
    """(seconds the header promises, seconds the file holds) for a RIFF/WAVE file of `size` bytes whose data chunk
    runs past the end of the file, from its first bytes `head`; None for any other file, a whole one, or a header
    that leaves the length open (0 or 0xFFFFFFFF, as writers into a pipe put there)."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    offset, byte_rate = 12, 0
    while offset + 8 <= len(head):
        chunk, length = head[offset:offset + 4], int.from_bytes(head[offset + 4:offset + 8], "little")
        if chunk == b"fmt " and offset + 16 <= len(head):
            byte_rate = int.from_bytes(head[offset + 16:offset + 20], "little")
        if chunk == b"data":
            held = size - (offset + 8)
            if length in (0, 0xFFFFFFFF) or byte_rate <= 0 or held >= length:
                return None
            return length / byte_rate, max(held, 0) / byte_rate
        offset += 8 + length + (length & 1)
    return None


def _warn_if_truncated(head: bytes, size: int, name) -> None:
    lengths = wav_truncation(head, size)
    if lengths is not None:
        import warnings
        warnings.warn(f"{name}: truncated WAV file: its header says {lengths[0]:.2f} s of audio but the file holds "
                      f"{lengths[1]:.2f} s (a copy or recording cut short?); transcribed what is there",
                      AudioWarning, stacklevel=4)


def _file_head(path, n: int = 1 << 16) -> tuple[bytes, int]:
    """The first `n` bytes of a file and its size (b"", 0 where it cannot be read: the reader will say why)."""
    try:
        with open(path, "rb") as f:
            return f.read(n), os.fstat(f.fileno()).st_size
    except OSError:
        return b"", 0


def _read_whole(source, name, sample_rate_hz: int) -> np.ndarray:
    """load_audio's reading of `source` (a path or a file object), errors naming `name`."""
    if hasattr(source, "getbuffer"):
        data = source.getbuffer()
        _warn_if_truncated(bytes(data[:1 << 16]), data.nbytes, name)
        del data  # a live view would keep the BytesIO from being resized or closed
    else:
        _warn_if_truncated(*_file_head(source), name)
    try:
        with _quiet_decoders():
            samples, file_rate_hz = soundfile.read(source, dtype="float32", always_2d=True)
    except _READ_ERRORS as error:
        raise AudioError(name, f"not a readable audio file ({_reason(error)})") from None
    if not np.all(np.isfinite(samples)):
        raise AudioError(name, "contains NaN or infinite samples")
    _check_file_rate(name, file_rate_hz)
    mono = clipped(downmix(samples), str(name))
    if file_rate_hz != sample_rate_hz:
        mono = resample(mono, file_rate_hz, sample_rate_hz)
    return np.clip(mono, -1.0, 1.0)


def load_audio_bytes(data: bytes, name: str = "-", sample_rate_hz: int = MODEL_SAMPLE_RATE_HZ) -> np.ndarray:
    """`load_audio` of a whole file's bytes (audio piped to standard input, say), errors naming it `name`."""
    import io
    if not data:
        raise AudioError(name, "no data (pipe an audio file into it)")
    return _read_whole(io.BytesIO(data), name, sample_rate_hz)


def _check_file_rate(path, rate_hz: int) -> None:
    if rate_hz < MIN_SAMPLE_RATE_HZ:
        raise AudioError(path, f"sample rate {rate_hz} Hz is too low to hold speech (at least {MIN_SAMPLE_RATE_HZ} Hz)")


def change_speed(audio: np.ndarray, sample_rate: int, speed: float) -> np.ndarray:
    """Speed perturbation (as Kaldi's `sox speed`): play the clip `speed` times as fast, pitch and tempo together,
    by resampling it to sample_rate / speed and reading the result at sample_rate."""
    if speed == 1.0:
        return audio
    return soxr.resample(audio, sample_rate, sample_rate / speed).astype(np.float32)


def stream_audio(path, sample_rate_hz: int = MODEL_SAMPLE_RATE_HZ, block_s: float = 10.0) -> Iterator[np.ndarray]:
    """`load_audio` in blocks of about `block_s` seconds, for files of any length in bounded memory.

    Yields float32 mono blocks [samples] at `sample_rate_hz` whose concatenation is the file (resampled by a
    streaming soxr resampler, so equal to `load_audio` up to rounding). Raises AudioError as `load_audio` does,
    when the problem is met: a block may already have been yielded.
    """
    if sample_rate_hz <= 0 or block_s <= 0:
        raise ValueError(f"sample_rate_hz and block_s must be positive, got {sample_rate_hz} and {block_s}")
    _check_is_file(path)
    try:
        with _quiet_decoders():
            file = soundfile.SoundFile(str(path))
    except _READ_ERRORS as error:
        raise AudioError(path, f"not a readable audio file ({_reason(error)})") from None
    with file:
        _check_file_rate(path, file.samplerate)
        _warn_if_truncated(*_file_head(path), path)
        resampler = None
        if file.samplerate != sample_rate_hz:
            resampler = soxr.ResampleStream(file.samplerate, sample_rate_hz, 1, dtype="float32",
                                            quality=RESAMPLE_QUALITY)
        block_frames = max(1, round(block_s * file.samplerate))
        while True:
            try:
                with _quiet_decoders():
                    data = file.read(block_frames, dtype="float32", always_2d=True)
            except _READ_ERRORS as error:
                raise AudioError(path, f"not a readable audio file ({_reason(error)})") from None
            if not np.all(np.isfinite(data)):
                raise AudioError(path, "contains NaN or infinite samples")
            last = len(data) < block_frames
            mono = clipped(downmix(data), str(path))
            if resampler is not None:
                mono = resampler.resample_chunk(mono, last=last)
            if len(mono):
                yield np.clip(mono, -1.0, 1.0)
            if last:
                return


def downmix(samples: np.ndarray) -> np.ndarray:
    """Mean over channels: float32 [samples, channels] -> [samples]."""
    return samples.mean(axis=1, dtype=np.float32)


def to_float32(samples: np.ndarray) -> np.ndarray:
    """PCM samples as float32: int16 / 2**15, int32 / 2**31, float arrays converted unchanged in value."""
    samples = np.asarray(samples)
    if samples.dtype in _PCM_SCALES:
        return (samples / _PCM_SCALES[samples.dtype]).astype(np.float32)
    if np.issubdtype(samples.dtype, np.floating):
        return samples.astype(np.float32, copy=False)
    raise ValueError(f"unsupported sample type {samples.dtype}; expected int16, int32 or float")


def resample(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Float32 samples [samples] (or [samples, channels]) resampled from `from_hz` to `to_hz` with soxr."""
    if from_hz <= 0 or to_hz <= 0:
        raise ValueError(f"sample rates must be positive, got {from_hz} and {to_hz}")
    samples = np.asarray(samples, dtype=np.float32)
    if from_hz == to_hz or len(samples) == 0:
        return samples
    return soxr.resample(samples, from_hz, to_hz, quality=RESAMPLE_QUALITY).astype(np.float32, copy=False)


def duration_s(path) -> float:
    """Duration of an audio file in seconds, read from its header; AudioError if it cannot be read."""
    _check_is_file(path)
    try:
        with _quiet_decoders():
            return float(soundfile.info(str(path)).duration)
    except _READ_ERRORS as error:
        raise AudioError(path, f"not a readable audio file ({_reason(error)})") from None


def find_audio_files(paths) -> tuple[list[Path], list[str]]:
    """Expand files and folders into audio files; returns (files, one-line error messages).

    Files named explicitly are kept whatever their suffix, in the order given. Folders are walked
    recursively and contribute, sorted, the files whose suffix is in AUDIO_SUFFIXES (any case).
    A file reached twice is listed once, where it was first reached.
    """
    files, errors, seen = [], [], set()
    for path in map(Path, paths):
        try:
            if path.is_dir():
                found = _audio_files_under(path)
                if not found:
                    errors.append(f"{path}: no audio files found")
            elif path.exists():
                found = [path]
            else:
                errors.append(f"{path}: no such file or directory")
                found = []
        except OSError as error:  # a name too long, a folder that may not be listed or entered
            errors.append(f"{path}: {error.strerror or error}")
            found = []
        for file in found:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                files.append(file)
    return files, errors


def _audio_files_under(folder: Path) -> list[Path]:
    """Sorted files under `folder`, at any depth, whose suffix is in AUDIO_SUFFIXES; OSError when `folder` itself
    cannot be listed (rglob would quietly find nothing in it)."""
    os.scandir(folder).close()
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def _check_is_file(path) -> None:
    """Raise AudioError unless `path` is an existing, non-empty regular file that may be read."""
    path = Path(path)
    try:
        if path.is_dir():
            raise AudioError(path, "is a directory, not an audio file")
        if not path.exists():
            raise AudioError(path, "no such file")
        if not path.is_file():  # reading a FIFO would wait forever for a writer
            raise AudioError(path, "not a regular file (a pipe, device or socket)")
        if path.stat().st_size == 0:
            raise AudioError(path, "file is empty")
        with open(path, "rb"):  # libsndfile reports a file it may not read only as "System error"
            pass
    except OSError as error:
        raise AudioError(path, error.strerror or str(error)) from None


@contextlib.contextmanager
def _quiet_decoders():
    """Hide file descriptor 2 while libsndfile reads: its MP3 decoder (libmpg123) prints notes there about a bad
    file ("Trying to resync...") besides the error it returns, which AudioError reports in one line. Only on the
    main thread: two threads swapping the process's fd 2 at once could leave it pointing at /dev/null."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no stderr to hide
        saved = None
    if saved is None:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _reason(error: Exception) -> str:
    """The library's own words for a read failure, without the path soundfile puts in front."""
    if isinstance(error, soundfile.LibsndfileError):
        reason = error.error_string.rstrip(".")
        # what libsndfile says when its MP3 decoder rejects a file; _check_is_file has ruled out the words' meaning
        return "corrupt or unsupported data" if reason.startswith("File does not exist or is not a regular") else reason
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
