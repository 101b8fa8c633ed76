"""The acoustic model: log-mel features -> normalise -> subsample time -> recurrent layers -> token logits.

Knows nothing of losses, files or data. Every call takes the true feature lengths and returns the true output
lengths; padded frames are masked, so padding never changes an utterance's output.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from asr.config import ModelConfig

CELLS = {"rnn": keras.layers.SimpleRNN, "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}


def output_lengths(feature_lengths, cfg: ModelConfig):
    """Output frames for the given feature frames: ceil division by each subsampling stage."""
    n = feature_lengths
    for factor in (cfg.stack_frames, max(cfg.conv_stride, 1)):
        n = -(-n // factor)
    return n


class AcousticModel(keras.Model):
    """features [batch, time, mels] + lengths [batch] -> (logits [batch, time', tokens] float32, lengths' [batch])."""

    def __init__(self, cfg: ModelConfig, num_features: int, precision: str = "float32", **kwargs):
        super().__init__(name="acoustic_model", **kwargs)
        if cfg.cell not in CELLS:
            raise ValueError(f"unknown cell {cfg.cell!r}; expected one of {', '.join(CELLS)}")
        self.cfg = cfg
        self.num_features = num_features
        self.feature_mean = self.add_weight(name="feature_mean", shape=(num_features,), initializer="zeros",
                                            trainable=False, dtype="float32")
        self.feature_std = self.add_weight(name="feature_std", shape=(num_features,), initializer="ones",
                                           trainable=False, dtype="float32")
        self.conv = None
        if cfg.conv_channels:
            self.conv = keras.layers.Conv1D(cfg.conv_channels, cfg.conv_kernel, strides=max(cfg.conv_stride, 1),
                                            padding="valid", activation="relu", name="conv", dtype=precision)
        self.rnns, self.dropouts = [], []
        for i in range(cfg.layers):
            layer = CELLS[cfg.cell](cfg.units, return_sequences=True, name=f"{cfg.cell}_{i}", dtype=precision)
            if cfg.bidirectional:
                layer = keras.layers.Bidirectional(layer, name=f"bi{cfg.cell}_{i}", dtype=precision)
            self.rnns.append(layer)
            self.dropouts.append(keras.layers.Dropout(cfg.dropout, name=f"dropout_{i}"))
        self.output_layer = keras.layers.Dense(cfg.num_tokens, name="logits", dtype="float32")

    def set_normalization(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Global per-mel mean and standard deviation of the training features."""
        self.feature_mean.assign(np.asarray(mean, np.float32))
        self.feature_std.assign(np.maximum(np.asarray(std, np.float32), 1e-3))

    def call(self, features, lengths, training=False):
        features = tf.convert_to_tensor(features, tf.float32)
        lengths = tf.cast(lengths, tf.int32)
        x = (features - self.feature_mean) / self.feature_std
        x *= tf.sequence_mask(lengths, tf.shape(x)[1], dtype=x.dtype)[:, :, None]
        x, lengths = self._stack(x, lengths)
        if self.conv is not None:
            x = tf.pad(x, [[0, 0], [self.cfg.conv_kernel - 1, 0], [0, 0]])  # causal: output i sees inputs <= i*s
            x = self.conv(x)
            lengths = -(-lengths // max(self.cfg.conv_stride, 1))
        mask = tf.sequence_mask(lengths, tf.shape(x)[1])
        for rnn, dropout in zip(self.rnns, self.dropouts):
            x = dropout(rnn(x, mask=mask, training=training), training=training)
        return self.output_layer(x), lengths

    def _stack(self, x, lengths):
        """Concatenate groups of `stack_frames` frames: [b, t, f] -> [b, ceil(t/k), f*k]."""
        k = self.cfg.stack_frames
        if k <= 1:
            return x, lengths
        t = tf.shape(x)[1]
        x = tf.pad(x, [[0, 0], [0, (-t) % k], [0, 0]])
        x = tf.reshape(x, [tf.shape(x)[0], -1, self.num_features * k])
        return x, -(-lengths // k)


def build_model(cfg: ModelConfig, num_features: int, precision: str = "float32") -> AcousticModel:
    """Create the model and its variables (by one call on an empty batch)."""
    model = AcousticModel(cfg, num_features, precision)
    model(tf.zeros([1, cfg.stack_frames * max(cfg.conv_stride, 1), num_features]), tf.constant([1]))
    return model


def count_parameters(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def save_weights(model: keras.Model, path, dtype=np.float16) -> None:
    """All weights, in creation order, as a compressed npz (float16 by default: half the size, same transcripts)."""
    arrays = {f"w{i:03d}": np.asarray(w.numpy(), dtype) for i, w in enumerate(model.weights)}
    arrays["names"] = np.array([w.path for w in model.weights])
    np.savez_compressed(path, **arrays)


def load_weights(model: keras.Model, path, skip: tuple[str, ...] = ()) -> None:
    """Load weights written by save_weights into a model built from the same config; weights of the layers named
    in `skip` keep their initial values."""
    with np.load(path) as data:
        names = list(data["names"])
        if len(names) != len(model.weights):
            raise ValueError(f"{path}: holds {len(names)} weights, the model has {len(model.weights)}: "
                             "the config does not match these weights")
        for i, w in enumerate(model.weights):
            if set(w.path.split("/")) & set(skip):
                continue
            value = data[f"w{i:03d}"]
            if tuple(value.shape) != tuple(w.shape):
                raise ValueError(f"{path}: weight {names[i]} has shape {value.shape}, the model expects {w.shape}")
            w.assign(value.astype(w.dtype))


class KerasEnsemble:
    """AcousticModels called as one, in TensorFlow (asr.model.ensemble's NumpyEnsemble, for export and reference):
    `ensemble(features, lengths)` returns (log posteriors, lengths) as an AcousticModel returns (logits,
    lengths), so export takes either (a log-softmax leaves log posteriors as they are)."""

    def __init__(self, networks, weights: list[float]):
        self.networks, self.shares = list(networks), list(weights)

    def __call__(self, features, lengths, training=False):
        mixed, out_lengths = 0.0, None
        for network, share in zip(self.networks, self.shares):
            logits, out_lengths = network(features, lengths, training=training)
            mixed += share * tf.nn.log_softmax(logits)
        return tf.nn.log_softmax(mixed), out_lengths

    @property
    def weights(self) -> list:
        """Every member's variables (what a SavedModel export tracks)."""
        return [w for network in self.networks for w in network.weights]

    @property
    def trainable_weights(self) -> list:
        """Every member's trainable variables (what asr.training.keras_model.count_parameters counts)."""
        return [w for network in self.networks for w in network.trainable_weights]
