"""A unidirectional acoustic model run chunk by chunk: samples in, log posteriors of the completed frames out.

Each output frame of a unidirectional model depends only on the past, so the model can run as audio arrives,
carrying its recurrent state between chunks. `StreamingAcoustics` holds the compiled step (shared by every
stream of one model); `AcousticStream` is one stream's buffers and state. Fed the same samples in any chunking,
a stream returns the same log posteriors as the whole-clip model (tests/test_streaming.py checks it):

- the front end is asr.features.log_mel itself, run on exactly the samples that complete whole groups of
  `stack_frames` feature frames (frames are not centred, so a frame needs no samples after its window);
- the leftover samples wait for the next chunk; `flush()` ends the stream as the offline model ends a clip
  (the last, short group padded with zeros after normalisation).
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from asr.config import Config
from asr.features import hop_samples, log_mel, num_frames, window_samples
from asr.model import CELLS, AcousticModel


class NotStreamable(ValueError):
    """The model needs the whole utterance (bidirectional, or a convolution that looks ahead)."""


class StreamingAcoustics:
    """The shared, compiled step of one model: (samples, states) -> (log posteriors, states)."""

    def __init__(self, model: AcousticModel, config: Config, name: str = "the model"):
        cfg = config.model
        if cfg.bidirectional:
            raise NotStreamable(f"{name} is bidirectional: it needs the whole utterance and cannot stream; "
                                "use a unidirectional model (the shipped 'english-stream' or 'digits-stream')")
        self.features = config.features
        self.stack = cfg.stack_frames
        if model.conv is not None:
            raise NotStreamable(f"{name}: a convolution front end is not supported for streaming")
        self.hop, self.window = hop_samples(self.features), window_samples(self.features)
        self.num_tokens = cfg.num_tokens
        # the trained layers, rebuilt to return their final state (same weights, float32)
        self.rnns, self.state_sizes = [], []
        for i, trained in enumerate(model.rnns):
            layer = CELLS[cfg.cell](cfg.units, return_sequences=True, return_state=True, name=f"stream_{i}")
            layer.build((1, None, cfg.units if i else model.num_features * cfg.stack_frames))
            layer.set_weights(trained.get_weights())
            self.rnns.append(layer)
            self.state_sizes += [cfg.units] * (2 if cfg.cell == "lstm" else 1)
        self.model = model
        states = tuple(tf.TensorSpec([1, n], tf.float32) for n in self.state_sizes)
        self._step = tf.function(self._run, input_signature=[tf.TensorSpec([None], tf.float32), states])

    def _run(self, samples, states):
        m = self.model
        feats = log_mel(samples, self.features)
        x = (feats - m.feature_mean) / m.feature_std
        x = tf.pad(x, [[0, (-tf.shape(x)[0]) % self.stack], [0, 0]])  # only the stream's last group is short
        x = tf.reshape(x, [1, -1, m.num_features * self.stack])
        new_states, i = [], 0
        for layer in self.rnns:
            n = 2 if isinstance(layer, keras.layers.LSTM) else 1
            x, *state = layer(x, initial_state=list(states[i:i + n]))
            new_states += state
            i += n
        return tf.nn.log_softmax(m.output_layer(x)[0]), tuple(new_states)

    def initial_states(self) -> tuple[np.ndarray, ...]:
        return tuple(np.zeros([1, n], np.float32) for n in self.state_sizes)

    def open(self) -> "AcousticStream":
        return AcousticStream(self)

    def warm_up(self) -> None:
        """Trace the step once (a second or two) so that the first real chunk is not late."""
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
        log_probs, states = self.acoustics._step(tf.constant(samples), self.states)
        self.states = tuple(s.numpy() for s in states)
        self.frames_out += len(log_probs)
        return log_probs.numpy()

