"""Live transcription: feed audio chunks, get partial and final events.

    from asr import load_model
    from asr.live.streaming import StreamingTranscriber
    stream = StreamingTranscriber(load_model("english-stream"), sample_rate=16000, final_model=load_model())
    for chunk in chunks:                      # int16 or float32 PCM, any size
        for event in stream.feed(chunk):
            print(event.type, event.text)     # "partial" while speech goes on, "final" when it ends
    for event in stream.finish(): ...         # flushes the last utterance

How it works: a unidirectional acoustic model (asr/model/stream.py) turns each chunk into log posteriors as it
arrives, carrying its state, so the frames equal the whole-clip model's. An energy detector (asr/audio/vad.py)
follows the same samples: an utterance opens with `min_speech_s` of speech and ends after `endpoint_silence_s` of
silence. While it is open, the streaming model's best transcript so far goes out every `partial_interval_s` of
audio (decoded as its frames arrive, asr.recognizer.UtteranceDecoder).

When it ends, the final. With a `final_model` (two passes), the utterance's samples, from `lead_s` before its first
speech to its end (or `early_final_s` into the pause that ended it, below), are transcribed by that offline model
(`final_model.transcribe`, the same as a file of those samples); without one (one pass), the final is the streaming
model's own decoding. An utterance that reaches `max_utterance_s` is cut, as files are cut into segments
(asr.audio.segment), in the longest pause after `min_cut_s`, and goes on from there as a new utterance. Final word
times are in seconds from the start of the stream, within the final's [start_s, end_s]; an utterance with no words
gives no final. With an `executor`, finals are decoded on it while partials go on; they come out in order, from a
later feed(), poll() or finish().

Finals begun at a pause (two passes, `early_final_s`): the final's audio ends `early_final_s` into the silence that
ends its utterance (what follows, up to the endpoint, is silence too). With an executor, its decode starts there,
`endpoint_silence_s - early_final_s` before the endpoint, on the guess that the pause is the end; the final is that
decode's result, with the endpoint as its end_s. If speech comes back first, the guess is dropped (cancelled if
not begun; a decode already running cannot be stopped, so it runs on and its result is ignored) and the utterance
goes on, to be guessed again at its next pause: a stream holds at most one such decode. Without an executor
nothing is decoded before the endpoint (a decode on the feeding thread at every pause would hold up the partials,
and most pauses are not endpoints), but the final is decoded from the same audio, so finals are the same with or
without one. An utterance cut at `max_utterance_s` drops its guess; its first part ends at the cut.
"""
from __future__ import annotations

from concurrent.futures import Executor, Future
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from asr.audio.load import downmix, to_float32
from asr.audio.segment import SegmentConfig, split_array
from asr.audio.vad import EnergyVad, VadConfig
from asr.decoding.ctc import Word
from asr.live.finals import FinalQueue, SampleBuffer
from asr.recognizer import Transcript, UtteranceDecoder


@dataclass(frozen=True)
class StreamingConfig:
    endpoint_silence_s: float = 0.6  # this much silence after speech ends an utterance (benchmarks/endpoints.py)
    min_speech_s: float = 0.06  # this much speech (within one utterance) opens it; shorter blips are ignored
    partial_interval_s: float = 0.2  # a partial at least this often (in audio time) while an utterance is open
    max_utterance_s: float = 20.0  # an utterance this long is cut at a pause (below the offline segment limit)
    min_cut_s: float = 8.0  # ... the longest pause after this much of it
    lead_s: float = 0.3  # audio kept from before the speech that opened an utterance
    early_final_s: float | None = 0.25  # two passes: a final's audio ends this far into its pause, and its decode
    # starts there (with an executor); below endpoint_silence_s; 0 or None: the audio up to the endpoint, decoded then
    vad: VadConfig = field(default_factory=lambda: VadConfig(frame_ms=20.0))

    def __post_init__(self):
        if self.early_final_s and not 0 < self.early_final_s < self.endpoint_silence_s:
            raise ValueError(f"early_final_s must be 0, None or between 0 and endpoint_silence_s "
                             f"({self.endpoint_silence_s}), got {self.early_final_s}")


@dataclass(frozen=True)
class StreamEvent:
    type: str  # "partial" or "final" (a final always has words)
    text: str
    start_s: float  # the utterance's start (its first speech), in seconds from the start of the stream
    end_s: float  # how far into the stream this event has heard (a final: the utterance's end)
    words: tuple[Word, ...] = ()  # finals only: words with times in stream seconds and confidences

    def to_dict(self) -> dict:
        out = {"type": self.type, "text": self.text, "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3)}
        if self.type == "final":
            out["words"] = [{k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(w).items()}
                            for w in self.words]
        return out


def final_event(text: str, words, offset_s: float, start_s: float, end_s: float) -> StreamEvent | None:
    """The final of an utterance [start_s, end_s] whose words were timed from `offset_s`; None with no words."""
    if not text.strip():
        return None
    inside = lambda t: min(max(t + offset_s, start_s), end_s)  # noqa: E731 - a word in the lead or tail
    timed = tuple(replace(w, start_s=inside(w.start_s), end_s=inside(w.end_s)) for w in words)
    return StreamEvent("final", text, start_s, end_s, timed)


class StreamingTranscriber:
    """One live stream over a loaded unidirectional model (asr.load_model("english-stream")), and optionally an
    offline model for the finals; not thread-safe, one feeder per instance, except that poll() may be called
    from another thread. Several instances may share both models."""

    def __init__(self, recognizer, sample_rate: int | None = None, config: StreamingConfig = StreamingConfig(),
                 final_model=None, executor: Executor | None = None):
        self.recognizer = recognizer
        self.final_model = final_model
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
        self.audio = SampleBuffer()  # samples at the model rate: the open utterance's, or the last lead_s
        self._audio_from = 0  # the open utterance's first sample (lead included)
        self._finals = FinalQueue(executor)
        self._vad_frames = 0  # VAD frames decided so far
        self._speech_s = 0.0  # speech heard in the current candidate utterance
        self._silence_s = 0.0  # silence since the last speech frame
        self._start_s: float | None = None  # first speech of the open utterance (None: no utterance open)
        self._candidate_start_s: float | None = None
        self._decoder: UtteranceDecoder | None = None  # the open utterance's
        self._decoder_first_frame = 0  # its first frame's stream index
        self._last_partial_s = 0.0
        self._pause_s: float | None = None  # two passes: where the open utterance's final's audio ends, if it paused
        self._early: Future | None = None  # the decode of that audio, begun at the pause (with an executor)
        self.heard_s = 0.0  # audio processed, in seconds at the model rate
        self.finished = False

    @property
    def two_pass(self) -> bool:
        return self.final_model is not None

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

    def poll(self) -> list[StreamEvent]:
        """Finals decoded on the executor since the last call (in order); [] without an executor."""
        return self._finals.ready()

    def next_pending_final(self):
        """The concurrent.futures.Future of the oldest final still being decoded (or not yet taken), or None."""
        return self._finals.next_pending()

    def finish(self) -> list[StreamEvent]:
        """End the stream: the open utterance (if any) becomes a final; waits for every final."""
        if self.finished:
            return []
        tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True) if self._resampler else \
            np.zeros(0, np.float32)
        events = self._process(tail, last=True)
        self.finished = True
        return events + self._finals.wait_all()

    # -- internals -----------------------------------------------------------------------------------------

    def _process(self, samples: np.ndarray, last: bool) -> list[StreamEvent]:
        frames = self.acoustic.push(samples)
        if last:
            frames = np.concatenate([frames, self.acoustic.flush()])
        self._frames = np.concatenate([self._frames, frames])
        self.audio.append(samples)
        self.heard_s += len(samples) / self.rate
        events = []
        vad_s = self.vad.frame_s
        for speech in self.vad(samples).tolist():
            self._vad_frames += 1
            self._step(speech, self._vad_frames * vad_s, vad_s, events)
        if last and self._start_s is not None:
            self._final(self._first_frame + len(self._frames), self.heard_s)
        elif last:
            self._drop_until(self._first_frame + len(self._frames))
        return events + self._finals.ready()

    def _step(self, speech: bool, now: float, frame_s: float, events: list) -> None:
        """Advance the endpointer by one VAD frame ending at `now`; events that come out go to `events`."""
        cfg = self.config
        if speech:
            if self._candidate_start_s is None:
                self._candidate_start_s = now - frame_s
            self._speech_s += frame_s
            self._silence_s = 0.0
            self._drop_pause()
            if self._start_s is None and self._speech_s >= cfg.min_speech_s:
                self._open(self._candidate_start_s, self._sample_at(max(self._candidate_start_s - cfg.lead_s, 0)))
        else:
            self._silence_s += frame_s
            if self._start_s is None and self._silence_s >= cfg.endpoint_silence_s:
                self._candidate_start_s, self._speech_s = None, 0.0  # a blip, not an utterance
        if self._start_s is None:
            self._drop_until(self._frame_at(now - cfg.lead_s))
            kept_s = now if self._candidate_start_s is None else self._candidate_start_s  # the lead before it
            self.audio.drop_until(self._sample_at(kept_s - cfg.lead_s))
            return
        if self._pause_s is None and self.two_pass and cfg.early_final_s and self._silence_s >= cfg.early_final_s:
            self._pause(now)
        if self._silence_s >= cfg.endpoint_silence_s:
            self._final(self._frame_at(now), now)
            events += self._finals.ready()
        elif now - self._start_s >= cfg.max_utterance_s:
            self._cut(now)
            events += self._finals.ready()
        elif now - self._last_partial_s >= cfg.partial_interval_s - 1e-9:
            self._last_partial_s = now
            self._decode_until(self._frame_at(now))
            events.append(StreamEvent("partial", self._decoder.partial(), self._start_s, now))

    def _open(self, start_s: float, first_sample: int) -> None:
        """An utterance begins at `start_s`; its audio (for the final model) at `first_sample`."""
        self._start_s = start_s
        self._last_partial_s = start_s  # the first partial partial_interval_s after it began
        self.audio.drop_until(first_sample)
        self._audio_from = self.audio.first
        self._drop_until(self._frame_at(first_sample / self.rate))
        self._decoder = UtteranceDecoder(self.recognizer)
        self._decoder_first_frame = self._first_frame

    def _decode_until(self, frame: int) -> None:
        """Give the utterance's decoder the frames up to stream index `frame` (those computed so far)."""
        upto = min(max(frame - self._first_frame, 0), len(self._frames))
        self._decoder.advance(self._frames[:upto])
        self._drop_until(self._first_frame + upto)

    def _final(self, end_frame: int, now: float) -> None:
        """The open utterance ends at `now` (its streaming frames at `end_frame`): queue its final."""
        if self.two_pass:
            self._drop_until(end_frame)
            self._queue_second_pass(self._sample_at(now), now)
        else:
            self._decode_until(end_frame)
            t = self._decoder.final()
            self._finals.put(final_event, t.text, t.words, self._decoder_first_frame * self.frame_s,
                             self._start_s, now)
        self._start_s = self._candidate_start_s = self._decoder = None
        self._speech_s = 0.0

    def _pause(self, now: float) -> None:
        """The open utterance has been silent for early_final_s at `now`: its final's audio ends here if this is its
        end; with an executor, that audio's decode begins."""
        self._pause_s = now
        if self._finals.executor is not None:
            self._early = self._finals.start(self._second_pass, self._audio_until(self._sample_at(now)))

    def _drop_pause(self) -> None:
        """The open utterance's pause (if any) is not its end: forget it, and drop its decode."""
        if self._early is not None:
            self._early.cancel()  # False once it runs: it runs on, and its result is ignored
        self._pause_s = self._early = None

    def _queue_second_pass(self, end_sample: int, end_s: float) -> None:
        """Queue the final of the open utterance, which ends at `end_s` (`end_sample`): decoded from its first sample
        to its pause (the decode begun there) or, with no pause, to end_sample."""
        audio_end = end_sample if self._pause_s is None else self._sample_at(self._pause_s)
        future = self._early if self._early is not None else \
            self._finals.start(self._second_pass, self._audio_until(audio_end))
        offset_s, start_s = self._audio_from / self.rate, self._start_s
        self._finals.add(future, lambda t: final_event(t.text, t.words, offset_s, start_s, end_s))
        self.audio.drop_until(end_sample)
        self._pause_s = self._early = None

    def _audio_until(self, end_sample: int) -> np.ndarray:
        """The open utterance's samples, from its first (lead included) to `end_sample` (a copy: the buffer goes on)."""
        return self.audio.slice(self._audio_from, end_sample)

    def _second_pass(self, audio: np.ndarray) -> Transcript:
        """The final model's transcript of an utterance's samples (on the executor, if any)."""
        return self.final_model.transcribe(audio, sample_rate=self.rate)

    def _cut(self, now: float) -> None:
        """The open utterance is too long: end it in its longest pause after min_cut_s (as files are segmented);
        what follows the cut goes on as the open utterance."""
        cfg = self.config
        audio = self.audio.slice(self._audio_from, self._sample_at(now))
        segments = SegmentConfig(max_segment_s=len(audio) / self.rate - 1e-6,
                                 min_segment_s=min(cfg.min_cut_s, cfg.max_utterance_s / 2), vad=cfg.vad)
        cut = self._audio_from + len(next(split_array(audio, self.rate, segments)).samples)
        cut_s = cut / self.rate
        self._decode_until(self._frame_at(now))
        frames = self._decoder.log_probs
        split = min(max(self._frame_at(cut_s) - self._decoder_first_frame, 0), len(frames))
        if self.two_pass:
            self._drop_pause()
            self._queue_second_pass(cut, cut_s)
        else:
            before = UtteranceDecoder(self.recognizer)
            before.advance(frames[:split])
            t = before.final()
            self._finals.put(final_event, t.text, t.words, self._decoder_first_frame * self.frame_s,
                             self._start_s, cut_s)
        self._start_s = self._last_partial_s = cut_s
        self._audio_from = cut
        self._decoder = UtteranceDecoder(self.recognizer)
        self._decoder.advance(frames[split:])
        self._decoder_first_frame += split

    def _sample_at(self, time_s: float) -> int:
        return max(0, round(time_s * self.rate))

    def _frame_at(self, time_s: float) -> int:
        """The stream index of the output frame that starts at or after `time_s`."""
        return max(0, int(np.ceil(time_s / self.frame_s - 1e-6)))

    def _drop_until(self, frame: int) -> None:
        """Forget the frames before stream index `frame` (decoded, or too old to matter)."""
        drop = min(max(frame - self._first_frame, 0), len(self._frames))
        self._frames = self._frames[drop:]
        self._first_frame += drop
