"""The acoustic model's forward pass for one utterance in NumPy: what transcription and streaming run.

`NumpyAcousticModel.load(cfg, model.npz)` reads the weights that training saved (asr.training.keras_model
.save_weights: every weight in creation order) straight into arrays; no TensorFlow is imported.

For one utterance on a CPU, TensorFlow's recurrent loop costs more in per-step overhead than in arithmetic (a
4 x BiLSTM-320 model: 12,000 small steps per minute of audio). Here each layer's input projection is one matrix
product over all frames, and only the recurrence loops, in NumPy; on the project's 2-core CPU that runs the
shipped models' acoustic models 2-9 times faster than TensorFlow (benchmarks/numpy_model.py). A bidirectional
layer's two directions run at once on two threads where there are two cores (the process's BLAS then keeps one
thread: one_blas_thread). The same recurrences run the streaming models frame by frame (asr.model.stream).
Results equal the Keras model's `call` (training=False) to float32 rounding: tests/model/test_numpy_model.py and
tests/live/test_streaming.py compare them.
Training and export keep TensorFlow (asr.training).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from asr.config import ModelConfig


class NumpyAcousticModel:
    """An acoustic model's weights, run in NumPy: log-mel features [frames, mels] -> log posteriors.

    `weights` are the model's arrays in the order training creates them (asr.training.keras_model): feature mean
    and standard deviation, the convolution's kernel and bias (if any), each recurrent layer's kernel, recurrent
    kernel and bias (forward, then backward for a bidirectional layer), the output kernel and bias.
    `step` carries the recurrent state from one call to the next, so a unidirectional model can run chunk by
    chunk (asr.model.stream); calling the model runs one whole utterance from the zero state.
    """

    def __init__(self, cfg: ModelConfig, weights: list[np.ndarray]):
        if cfg.cell not in RECURRENCES:
            raise ValueError(f"unknown cell {cfg.cell!r}; expected one of {', '.join(RECURRENCES)}")
        self.cfg = cfg
        self.cell, self.units, self.stack_frames = cfg.cell, cfg.units, cfg.stack_frames
        arrays = list(weights)
        expected = 2 + (2 if cfg.conv_channels else 0) + 3 * cfg.layers * (2 if cfg.bidirectional else 1) + 2
        if len(arrays) != expected:
            raise ValueError(f"{len(arrays)} weight arrays, the model's configuration needs {expected}: the config "
                             "does not match these weights")
        self.parameters = int(sum(np.size(w) for w in arrays[2:]))  # trainable: all but the normalisation
        self.mean, self.std = (np.asarray(w, np.float32) for w in arrays[:2])
        rest = arrays[2:]
        self.conv = None
        if cfg.conv_channels:
            self.conv, rest = tuple(np.asarray(w, np.float32) for w in rest[:2]), rest[2:]
        per_layer = 6 if cfg.bidirectional else 3
        self.layers = [layer_weights(rest[i * per_layer:(i + 1) * per_layer], cfg.cell) for i in range(cfg.layers)]
        self.output_kernel, self.output_bias = (np.asarray(w, np.float32) for w in rest[-2:])
        _check_shapes(cfg, self, np.shape(arrays[0])[0])
        if self.output_kernel.shape[-1] != cfg.num_tokens:
            raise ValueError(f"the output layer has {self.output_kernel.shape[-1]} tokens, the config says "
                             f"{cfg.num_tokens}")

    @classmethod
    def load(cls, cfg: ModelConfig, path) -> "NumpyAcousticModel":
        """The model saved in `path` (a model.npz: arrays w000, w001, ... in creation order, and their names)."""
        with np.load(Path(path)) as data:
            count = sum(1 for name in data.files if name != "names")
            return cls(cfg, [data[f"w{i:03d}"] for i in range(count)])

    def __call__(self, features: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
        """features [frames, mels] float32 -> log-softmax [ceil(frames / stack_frames), tokens] float32. `mean`
        [mels] stands in for the training features' mean in the normalisation (the input's own mean: a channel's
        constant tilt, a gain, taken out)."""
        return self.step(features, self.initial_states(), mean)[0]

    def initial_states(self) -> tuple:
        """The zero state of every layer (of its forward direction)."""
        return tuple(initial_state(self.cell, self.units) for _ in self.layers)

    def step(self, features: np.ndarray, states: tuple, mean: np.ndarray | None = None) -> tuple[np.ndarray, tuple]:
        """(features [frames, mels], states) -> (log-softmax [ceil(frames / stack_frames), tokens], states after
        the last frame). A short last group of frames is padded with zeros after normalisation, as the Keras model
        pads a clip's end. A bidirectional layer's backward direction starts from zero at the last frame."""
        x = (np.asarray(features, np.float32) - (self.mean if mean is None else mean)) / self.std
        k = self.stack_frames
        if k > 1:
            x = np.pad(x, [[0, (-len(x)) % k], [0, 0]]).reshape(-1, x.shape[1] * k)
        if self.conv is not None:
            x = causal_conv(x, *self.conv, stride=max(self.cfg.conv_stride, 1))
        recurrence = RECURRENCES[self.cell]
        new_states = []
        for directions, state in zip(self.layers, states):
            if len(directions) == 1:
                x, state = recurrence(x, state, *directions[0])
            else:
                x, state = _bidirectional(recurrence, x, state, directions, initial_state(self.cell, self.units))
            new_states.append(state)
        return log_softmax(x @ self.output_kernel + self.output_bias), tuple(new_states)


PARALLEL_MIN_FRAMES = 32  # a bidirectional layer over at least this many frames runs its directions on two threads


def _bidirectional(recurrence, x, state, directions, zero_state):
    """One bidirectional layer: (its output [frames, 2 x units], the forward direction's last state). Where there is
    a core to spare, the backward direction runs on another thread while this one runs the forward: NumPy's matrix
    products let go of the GIL, so the two recurrences overlap (1.1-1.6x faster on 2 cores,
    `benchmarks/numpy_model.py --directions`). Either way the result is the same, to the bit."""
    pool = _backward_pool() if len(x) >= PARALLEL_MIN_FRAMES else None
    if pool is None:
        backward = recurrence(x[::-1], zero_state, *directions[1])[0]
    else:
        running = pool.submit(recurrence, x[::-1], zero_state, *directions[1])
    forward, state = recurrence(x, state, *directions[0])
    if pool is not None:
        backward = running.result()[0]
    return np.concatenate([forward, backward[::-1]], axis=1), state


_POOL: list = []  # [the backward directions' thread pool], or [None] on one core; made on first use
_POOL_LOCK = threading.Lock()
if hasattr(os, "register_at_fork"):  # a forked child (asr transcribe --jobs) has none of the pool's threads
    os.register_at_fork(after_in_child=_POOL.clear)


def _backward_pool():
    with _POOL_LOCK:
        if not _POOL:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            if cores < 2:
                _POOL.append(None)
            else:
                one_blas_thread()  # with several BLAS threads per product the two directions fight over the cores
                _POOL.append(ThreadPoolExecutor(cores - 1, thread_name_prefix="asr-backward"))
        return _POOL[0]


def directions_in_turn() -> None:
    """From now on each bidirectional layer's directions run one after the other on the calling thread: for processes
    that fill the cores between them (asr transcribe --jobs)."""
    with _POOL_LOCK:
        _POOL[:] = [None]


def one_blas_thread() -> None:
    """One BLAS thread for this process. The products here are a frame's state times a recurrent kernel (320 x 1,280
    for the shipped models), too small to share: more BLAS threads only spin between them (measured: a whole core
    per process; eight streams in one process slowed tenfold; a 4 x BiLSTM-320 utterance 10-20 % slower), and they
    leave no core to the second direction or stream."""
    threadpool_limits(1, user_api="blas")


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Log-softmax over the last axis (per frame of `[frames, tokens]`), in `x`'s dtype: what the acoustic model
    outputs, and how asr.model.ensemble and asr.model.priors renormalise the log posteriors they reweight."""
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def initial_state(cell: str, units: int) -> tuple[np.ndarray, ...]:
    """A layer's zero state: (h, c) for an LSTM, (h,) otherwise."""
    return tuple(np.zeros(units, np.float32) for _ in range(2 if cell == "lstm" else 1))


def _check_shapes(cfg: ModelConfig, model: "NumpyAcousticModel", mels: int) -> None:
    """ValueError unless every weight has the shape the configuration gives it."""
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[cfg.cell]
    width = mels * cfg.stack_frames
    if model.conv is not None:
        expected = (cfg.conv_kernel, width, cfg.conv_channels)
        if model.conv[0].shape != expected:
            raise ValueError(f"convolution kernel of shape {model.conv[0].shape}, the config gives {expected}")
        width = cfg.conv_channels
    for i, directions in enumerate(model.layers):
        for kernel, recurrent, _ in directions:
            if kernel.shape != (width, gates * cfg.units) or recurrent.shape != (cfg.units, gates * cfg.units):
                raise ValueError(f"layer {i}: weights of shapes {kernel.shape} and {recurrent.shape}, the config "
                                 f"gives {(width, gates * cfg.units)} and {(cfg.units, gates * cfg.units)}")
        width = cfg.units * len(directions)
    if model.output_kernel.shape[0] != width:
        raise ValueError(f"output layer of {model.output_kernel.shape[0]} inputs, the config gives {width}")


def causal_conv(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    """Keras's Conv1D (valid, ReLU) after kernel - 1 zero frames in front, as the training model pads:
    x [frames, inputs], kernel [taps, inputs, outputs] -> [ceil(frames / stride), outputs]."""
    taps = len(kernel)
    padded = np.pad(x, [[taps - 1, 0], [0, 0]])
    count = (len(padded) - taps) // stride + 1
    out = np.broadcast_to(bias, (count, len(bias))).copy()
    for i in range(taps):
        out += padded[i:i + stride * (count - 1) + 1:stride] @ kernel[i]
    return np.maximum(out, 0.0)


def layer_weights(weights: list[np.ndarray], cell: str) -> list[list[np.ndarray]]:
    """A recurrent layer's weights as float32 arrays, [kernel, recurrent kernel, bias] per direction (a
    bidirectional layer lists forward, then backward), in the form RECURRENCES[cell] takes them: an LSTM's
    sigmoid-gate columns halved (see _lstm), once here rather than at every call."""
    directions = [weights[i:i + 3] for i in range(0, len(weights), 3)]
    if cell != "lstm":
        return [[np.asarray(w, np.float32) for w in direction] for direction in directions]
    units = np.shape(directions[0][1])[0]
    scale = np.full(4 * units, 0.5, np.float32)
    scale[2 * units:3 * units] = 1.0
    return [[np.multiply(w, scale, dtype=np.float32) for w in direction] for direction in directions]


# Keras's recurrent cells, one frame at a time, on the weights of its layers (layer_weights): x [frames, inputs],
# state [units] arrays -> (outputs [frames, units], new state).

def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # = 1 / (1 + exp(-x)), without overflow


def _lstm(x, state, kernel, recurrent, bias):
    """Gates in Keras's order input, forget, cell, output. sigmoid(x) = (1 + tanh(x / 2)) / 2, so with the three
    sigmoid gates' columns of the weights halved (layer_weights) one tanh per frame serves all four gates."""
    h, c = state
    units = len(h)
    inputs = x @ kernel + bias
    out = np.empty((len(x), units), np.float32)
    for t in range(len(x)):
        z = np.tanh(inputs[t] + h @ recurrent)
        gates = 0.5 * z + 0.5  # input, forget and output gates (the cell block of this is not used)
        c = gates[units:2 * units] * c + gates[:units] * z[2 * units:3 * units]
        h = gates[3 * units:] * np.tanh(c)
        out[t] = h
    return out, (h, c)


def _gru(x, state, kernel, recurrent, bias):
    (h,) = state
    inputs = x @ kernel + bias[0]  # gates z, r, candidate; Keras's reset_after form (the default)
    out = np.empty((len(x), len(h)), np.float32)
    for t in range(len(x)):
        x_z, x_r, x_h = np.split(inputs[t], 3)
        h_z, h_r, h_h = np.split(h @ recurrent + bias[1], 3)
        z, r = _sigmoid(x_z + h_z), _sigmoid(x_r + h_r)
        h = z * h + (1 - z) * np.tanh(x_h + r * h_h)
        out[t] = h
    return out, (h,)


def _simple_rnn(x, state, kernel, recurrent, bias):
    (h,) = state
    inputs = x @ kernel + bias
    out = np.empty((len(x), len(h)), np.float32)
    for t in range(len(x)):
        h = np.tanh(inputs[t] + h @ recurrent)
        out[t] = h
    return out, (h,)


RECURRENCES = {"lstm": _lstm, "gru": _gru, "rnn": _simple_rnn}
