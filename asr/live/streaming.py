"""Live transcription: feed audio chunks, get partial and final events.

    from asr import load_model
    from asr.live.streaming import StreamingTranscriber
    stream = StreamingTranscriber(load_model("english-stream"), sample_rate=16000)
    for chunk in chunks:                      # int16 or float32 PCM, any size
        for event in stream.feed(chunk):
            print(event.type, event.text)     # "partial" while speech goes on, "final" when it ends
    for event in stream.finish(): ...         # flushes the last utterance

How it works: a unidirectional acoustic model (asr/model/stream.py) turns each chunk into log posteriors as it
arrives, carrying its state, so the frames equal the whole-clip model's. An energy detector (asr/audio/vad.py) follows
the same samples: an utterance opens with `min_speech_s` of speech and ends after `endpoint_silence_s` of
silence. While it is open, the best transcript so far goes out every `partial_interval_s` of audio; when
it ends, the final text with word times in stream seconds. Decoding is the model's own (greedy, or beam search
with its lexicon or LM, as offline), run on the utterance's frames as they arrive (asr.recognizer.UtteranceDecoder),
so the final costs little more than the last frames. Frames are cut into utterances at the endpoints.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from asr.audio.load import downmix, to_float32
from asr.audio.vad import EnergyVad, VadConfig
from asr.decoding.ctc import Word
from asr.recognizer import UtteranceDecoder


@dataclass(frozen=True)
class StreamingConfig:
    endpoint_silence_s: float = 0.12  # this much silence after speech ends an utterance
    min_speech_s: float = 0.06  # this much speech (within one utterance) opens it; shorter blips are ignored
    partial_interval_s: float = 0.2  # a partial at least this often (in audio time) while an utterance is open
    max_utterance_s: float = 30.0  # an utterance this long is ended even without a pause
    lead_s: float = 0.3  # frames kept from before the speech that opened an utterance
    vad: VadConfig = field(default_factory=lambda: VadConfig(frame_ms=20.0))


@dataclass(frozen=True)
class StreamEvent:
    type: str  # "partial" or "final" (every utterance ends with one final; its text may be empty)
    text: str
    start_s: float  # the utterance's start (its first speech), in seconds from the start of the stream
    end_s: float  # how far into the stream this event has heard
    words: tuple[Word, ...] = ()  # finals only: word times in stream seconds

    def to_dict(self) -> dict:
        out = {"type": self.type, "text": self.text, "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3)}
        if self.type == "final":
            out["words"] = [{k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(w).items()}
                            for w in self.words]
        return out


class StreamingTranscriber:
    """One live stream over a loaded model (asr.load_model of a unidirectional model); not thread-safe: one
    feeder per instance. Several instances may share one model."""

    def __init__(self, recognizer, sample_rate: int | None = None, config: StreamingConfig = StreamingConfig()):
        self.recognizer = recognizer
        self.config = config
        self.rate = recognizer.sample_rate_hz
        self.input_rate = sample_rate or self.rate
        self.acoustic = recognizer.streaming().open()
        self._resampler = None
        if self.input_rate != self.rate:
            import soxr
            self._resampler = soxr.ResampleStream(self.input_rate, self.rate, 1, dtype="float32", quality="HQ")
        self.frame_s = recognizer.frame_s
        self.vad = EnergyVad(self.rate, config.vad)
        self._frames = np.zeros([0, recognizer.vocab.size], np.float32)  # log posteriors since `_first_frame`
        self._first_frame = 0  # stream index of _frames[0]
        self._vad_frames = 0  # VAD frames decided so far
        self._speech_s = 0.0  # speech heard in the current candidate utterance
        self._silence_s = 0.0  # silence since the last speech frame
        self._start_s: float | None = None  # first speech of the open utterance (None: no utterance open)
        self._candidate_start_s: float | None = None
        self._decoder: UtteranceDecoder | None = None  # the open utterance's
        self._decoder_first_frame = 0  # its first frame's stream index
        self._last_partial_s = 0.0
        self.heard_s = 0.0  # audio processed, in seconds at the model rate
        self.finished = False

    def feed(self, chunk) -> list[StreamEvent]:
        """Process a chunk of PCM (int16, or float in [-1, 1]; mono, or [samples, channels] downmixed)."""
        if self.finished:
            raise RuntimeError("this stream is finished; start a new StreamingTranscriber")
        samples = to_float32(np.asarray(chunk))
        if samples.ndim == 2:
            samples = downmix(samples)
        if samples.ndim != 1:
            raise ValueError(f"expected mono samples or [samples, channels], got shape {samples.shape}")
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        return self._process(samples, last=False)

    def finish(self) -> list[StreamEvent]:
        """End the stream: the open utterance (if any) becomes a final."""
        if self.finished:
            return []
        tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True) if self._resampler else \
            np.zeros(0, np.float32)
        events = self._process(tail, last=True)
        self.finished = True
        return events

    # -- internals -----------------------------------------------------------------------------------------

    def _process(self, samples: np.ndarray, last: bool) -> list[StreamEvent]:
        frames = self.acoustic.push(samples)
        if last:
            frames = np.concatenate([frames, self.acoustic.flush()])
        self._frames = np.concatenate([self._frames, frames])
        self.heard_s += len(samples) / self.rate
        events = []
        vad_s = self.vad.frame_s
        for speech in self.vad(samples).tolist():
            self._vad_frames += 1
            now = self._vad_frames * vad_s
            event = self._step(speech, now, vad_s)
            if event is not None:
                events.append(event)
        if last and self._start_s is not None:
            events.append(self._final(len(self._frames) + self._first_frame, self.heard_s))
        elif last:
            self._drop_until(self._first_frame + len(self._frames))
        return events

    def _step(self, speech: bool, now: float, frame_s: float) -> StreamEvent | None:
        """Advance the endpointer by one VAD frame ending at `now`; maybe return an event."""
        cfg = self.config
        if speech:
            if self._candidate_start_s is None:
                self._candidate_start_s = now - frame_s
            self._speech_s += frame_s
            self._silence_s = 0.0
            if self._start_s is None and self._speech_s >= cfg.min_speech_s:
                self._start_s = self._candidate_start_s
                self._last_partial_s = self._start_s  # the first partial partial_interval_s after speech began
                self._drop_until(self._frame_at(self._start_s - cfg.lead_s))
                self._decoder = UtteranceDecoder(self.recognizer)
                self._decoder_first_frame = self._first_frame
        else:
            self._silence_s += frame_s
            if self._start_s is None and self._silence_s >= cfg.endpoint_silence_s:
                self._candidate_start_s, self._speech_s = None, 0.0  # a blip, not an utterance
        if self._start_s is None:
            self._drop_until(self._frame_at(now - cfg.lead_s))
            return None
        if self._silence_s >= cfg.endpoint_silence_s or now - self._start_s >= cfg.max_utterance_s:
            return self._final(self._frame_at(now), now)
        if now - self._last_partial_s >= cfg.partial_interval_s - 1e-9:
            self._last_partial_s = now
            self._decode_until(self._frame_at(now))
            return StreamEvent("partial", self._decoder.partial(), self._start_s, now)
        return None

    def _decode_until(self, frame: int) -> None:
        """Give the utterance's decoder the frames up to stream index `frame` (those computed so far)."""
        upto = min(max(frame - self._first_frame, 0), len(self._frames))
        self._decoder.advance(self._frames[:upto])
        self._drop_until(self._first_frame + upto)

    def _final(self, end_frame: int, now: float) -> StreamEvent:
        self._decode_until(end_frame)
        transcript = self._decoder.final()
        offset_s = self._decoder_first_frame * self.frame_s
        words = tuple(replace(w, start_s=w.start_s + offset_s, end_s=w.end_s + offset_s) for w in transcript.words)
        event = StreamEvent("final", transcript.text, self._start_s, now, words)
        self._start_s = self._candidate_start_s = self._decoder = None
        self._speech_s = 0.0
        return event

    def _frame_at(self, time_s: float) -> int:
        """The stream index of the output frame that starts at or after `time_s`."""
        return max(0, int(np.ceil(time_s / self.frame_s - 1e-6)))

    def _drop_until(self, frame: int) -> None:
        """Forget the frames before stream index `frame` (decoded, or too old to matter)."""
        drop = min(max(frame - self._first_frame, 0), len(self._frames))
        self._frames = self._frames[drop:]
        self._first_frame += drop
