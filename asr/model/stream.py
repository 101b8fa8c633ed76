"""A unidirectional acoustic model run chunk by chunk: samples in, log posteriors of the completed frames out.

Each output frame of a unidirectional model depends only on the past, so the model can run as audio arrives,
carrying its recurrent state between chunks. `StreamingAcoustics` holds the compiled step (shared by every
stream of one model); `AcousticStream` is one stream's buffers and state. Fed the same samples in any chunking,
a stream returns the same log posteriors as the whole-clip model (tests/live/test_streaming.py checks it):

- the front end is asr.audio.features.log_mel itself, run on exactly the samples that complete whole groups of
  `stack_frames` feature frames (frames are not centred, so a frame needs no samples after its window);
- the leftover samples wait for the next chunk; `flush()` ends the stream as the offline model ends a clip
  (the last, short group padded with zeros after normalisation).
"""
from __future__ import annotations

import numpy as np

from asr.audio import running_mean
from asr.audio.features import hop_samples, log_mel, num_frames, window_samples
from asr.config import Config
from asr.model.ensemble import ENSEMBLE_FILE, NumpyEnsemble, training_mean
from asr.model.network import NumpyAcousticModel, one_blas_thread


class NotStreamable(ValueError):
    """The model needs the whole utterance (bidirectional, or a convolution that looks ahead), or is an ensemble."""


class StreamingAcoustics:
    """The shared, compiled step of one model: (samples, states) -> (log posteriors, states)."""

    def __init__(self, model: NumpyAcousticModel | NumpyEnsemble, config: Config, name: str = "the model",
                 running_mean_s: float | None = None):
        if isinstance(model, NumpyEnsemble):
            raise NotStreamable(f"{name} is an ensemble of {len(model.networks)} networks ({ENSEMBLE_FILE}): "
                                "streaming runs a single network")
        cfg = config.model
        if cfg.bidirectional:
            raise NotStreamable(f"{name} is bidirectional: it needs the whole utterance and cannot stream; "
                                "use a unidirectional model (the shipped 'english-stream' or 'digits-stream')")
        self.features = config.features
        self.stack = cfg.stack_frames
        if cfg.conv_channels:
            raise NotStreamable(f"{name}: a convolution front end is not supported for streaming")
        self.hop, self.window = hop_samples(self.features), window_samples(self.features)
        self.num_tokens = cfg.num_tokens
        # the recurrent layers carry their state between chunks (NumpyAcousticModel.step): a stream runs one or a
        # few frames at a time, where numpy's matrix products take tens of microseconds
        self.acoustics = model
        # each frame normalised by the running mean of the frames so far (asr.audio.running_mean), its state carried
        # beside the layers'; None: by the training mean
        self.running_mean_s = running_mean_s
        self.hop_s = self.features.hop_ms / 1000
        one_blas_thread()  # a stream's matrix products are tiny (asr.model.network.one_blas_thread)

    def _step(self, samples: np.ndarray, states: tuple) -> tuple[np.ndarray, tuple]:
        """(samples that complete whole groups of frames, states) -> (log posteriors [frames, tokens], states);
        only the stream's last group of frames is short."""
        features = log_mel(samples, self.features)
        if self.running_mean_s is None:
            return self.acoustics.step(features, states)
        layers, mean_state = states
        means, mean_state = running_mean.running_means(features, mean_state, self.hop_s, self.running_mean_s)
        log_probs, layers = self.acoustics.step(features, layers, means)
        return log_probs, (layers, mean_state)

    def initial_states(self) -> tuple:
        if self.running_mean_s is None:
            return self.acoustics.initial_states()
        return self.acoustics.initial_states(), running_mean.initial_state(training_mean(self.acoustics), self.hop_s)

    def open(self) -> "AcousticStream":
        return AcousticStream(self)

    def warm_up(self) -> None:
        """Run the step once, so that the first real chunk does not pay for first-call set-up."""
        self.open().push(np.zeros(self.window + self.hop * (self.stack - 1), np.float32))


class AcousticStream:
    """One stream: `push(samples)` -> log posteriors [frames, tokens] of the output frames completed so far."""

    def __init__(self, acoustics: StreamingAcoustics):
        self.acoustics = acoustics
        self.states = acoustics.initial_states()
        self.samples = np.zeros(0, np.float32)  # from the start of the next feature frame on
        self.frames_out = 0  # output frames returned so far

    def push(self, samples: np.ndarray) -> np.ndarray:
        a = self.acoustics
        self.samples = np.concatenate([self.samples, np.asarray(samples, np.float32)])
        groups = num_frames(len(self.samples), a.features) // a.stack
        if groups == 0:
            return np.zeros([0, a.num_tokens], np.float32)
        frames = groups * a.stack
        out = self._step(self.samples[:(frames - 1) * a.hop + a.window])
        self.samples = self.samples[frames * a.hop:]
        return out

    def flush(self) -> np.ndarray:
        """The last, partial group (as the offline model pads a clip's end); the stream then starts afresh."""
        a = self.acoustics
        out = np.zeros([0, a.num_tokens], np.float32)
        if num_frames(len(self.samples), a.features) > 0:
            out = self._step(self.samples)
        self.samples = np.zeros(0, np.float32)
        return out

    def reset(self) -> None:
        """Forget the recurrent state (the front end's buffered samples stay)."""
        self.states = self.acoustics.initial_states()

    def _step(self, samples: np.ndarray) -> np.ndarray:
        log_probs, self.states = self.acoustics._step(samples, self.states)
        self.frames_out += len(log_probs)
        return log_probs.astype(np.float32)
