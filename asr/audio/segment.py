"""Cut audio of any length into segments at pauses, in bounded memory, for transcription piece by piece.

Blocks of samples go in (from `asr.audio.load.stream_audio` or slices of an array); segments of at most
`max_segment_s` come out, each cut in the middle of the longest pause the energy detector (`asr.audio.vad`) found
between `min_segment_s` and `max_segment_s` into the pending audio; with no pause there, at its quietest frame.
At most about `max_segment_s` plus one block of audio is held at any time.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from asr.audio.vad import ENERGY_EPS, EnergyVad, VadConfig


@dataclass(frozen=True)
class Segment:
    start_s: float  # where the segment starts in the whole recording
    samples: np.ndarray  # float32 [samples]
    has_speech: bool  # the detector found at least one speech frame in it
    sample_rate_hz: int

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.samples) / self.sample_rate_hz


@dataclass(frozen=True)
class SegmentConfig:
    max_segment_s: float = 25.0
    min_segment_s: float = 8.0
    vad: VadConfig = VadConfig()


def split_at_pauses(blocks: Iterable[np.ndarray], sample_rate_hz: int,
                    cfg: SegmentConfig = SegmentConfig()) -> Iterator[Segment]:
    """Segments, in order, whose samples concatenate to the input blocks' samples."""
    if not 0 < cfg.min_segment_s < cfg.max_segment_s:
        raise ValueError(f"need 0 < min_segment_s < max_segment_s, got {cfg.min_segment_s}, {cfg.max_segment_s}")
    vad = EnergyVad(sample_rate_hz, cfg.vad)
    frame_len = vad.frame_len
    max_frames = max(2, int(cfg.max_segment_s / vad.frame_s))
    min_frames = min(max_frames - 1, max(1, int(cfg.min_segment_s / vad.frame_s)))
    pending, energies, speech = np.zeros(0, np.float32), np.zeros(0), np.zeros(0, bool)
    start = 0  # sample index of pending[0] in the recording (always a frame boundary)
    for block in blocks:
        new_energies, new_speech = vad.energies_and_decisions(block)
        pending = np.concatenate([pending, np.asarray(block, np.float32)])
        energies, speech = np.concatenate([energies, new_energies]), np.concatenate([speech, new_speech])
        while len(energies) >= max_frames:
            cut = _cut_frame(energies[:max_frames], speech[:max_frames], min_frames)
            yield Segment(start / sample_rate_hz, pending[:cut * frame_len], bool(speech[:cut].any()), sample_rate_hz)
            pending, energies, speech = pending[cut * frame_len:], energies[cut:], speech[cut:]
            start += cut * frame_len
    if len(pending):
        yield Segment(start / sample_rate_hz, pending, bool(speech.any()), sample_rate_hz)


def has_sound(samples: np.ndarray, sample_rate_hz: int, cfg: VadConfig = VadConfig()) -> bool:
    """Whether any frame of a clip, its mean (a DC offset) taken out, is louder than `cfg.min_speech_db`: false
    for digital silence, a constant offset and faint noise, which hold no words. (The detector's noise floor is
    no use here: a clip trimmed to its word has no quiet to measure it on.)"""
    frame_len = max(1, round(sample_rate_hz * cfg.frame_ms / 1000))
    frames = len(samples) // frame_len or (1 if len(samples) else 0)
    if frames == 0:
        return False
    framed = np.asarray(samples[:frames * frame_len], np.float64)
    framed = framed.reshape(frames, -1)
    power = np.square(framed - framed.mean(axis=1, keepdims=True)).mean(axis=1)
    return bool((10 * np.log10(power + ENERGY_EPS) >= cfg.min_speech_db).any())


def split_array(samples: np.ndarray, sample_rate_hz: int, cfg: SegmentConfig = SegmentConfig(),
                block_s: float = 10.0) -> Iterator[Segment]:
    """`split_at_pauses` over an array already in memory."""
    step = max(1, round(block_s * sample_rate_hz))
    return split_at_pauses((samples[i:i + step] for i in range(0, len(samples), step)), sample_rate_hz, cfg)


def _cut_frame(energies: np.ndarray, speech: np.ndarray, min_frames: int) -> int:
    """Where to end a segment: the middle of the longest pause starting at or after `min_frames` (ties go to
    the later pause), else the quietest frame from there on."""
    best_start, best_len, run_start = -1, 0, None
    for i in range(min_frames, len(speech) + 1):
        if i < len(speech) and not speech[i]:
            run_start = i if run_start is None else run_start
            continue
        if run_start is not None and i - run_start >= best_len:
            best_start, best_len = run_start, i - run_start
        run_start = None
    if best_len:
        return best_start + best_len // 2
    return min_frames + int(np.argmin(energies[min_frames:])) + 1
