"""The vanishing-gradient probe: ||dL_T/dh_t|| against the distance T - t, for a trained (or fresh) acoustic model.

L_T is one output frame's loss, -log P(y_T | frame T), where y_T is the token a CTC forced alignment puts at
frame T. The top recurrent layer's cell is unrolled step by step (the Keras cell's own call, on a float64 copy of
its weights, so long products of small factors do not underflow) with a zero tensor e_t added to every state:
dL/de_t is the total derivative dL/dh_t through every later step. For the LSTM the cell state c_t gets its own e_t.
For a bidirectional layer each direction is probed on its own, in the order it runs (the backward direction on
the reversed clip), with the other direction's outputs held at their values.

Read top to bottom: layer_inputs -> float64_cell -> make_unroll -> probe_direction -> probe_models -> summarise.
"""
from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from asr.decoding.ctc import forced_align
from asr.training.keras_model import AcousticModel

F64 = tf.float64
TOLERANCE = 1e-3  # the float64 unroll must reproduce the float32 layer's outputs to this (max abs difference)


@dataclass
class Targets:
    """Which loss terms to probe: clip `clips[i]` at output frame `frames[i]`, reading token `tokens[i]`."""

    clips: np.ndarray  # [rows] int
    frames: np.ndarray  # [rows] int
    tokens: np.ndarray  # [rows] int


def layer_inputs(model: AcousticModel, features: np.ndarray, lengths: np.ndarray):
    """The top recurrent layer's inputs [clips, time', dims] and their lengths [clips], as AcousticModel.call
    computes them (normalise, mask, stack frames, optional convolution, the layers below) at inference."""
    cfg = model.cfg
    x = (tf.convert_to_tensor(features, tf.float32) - model.feature_mean) / model.feature_std
    lengths = tf.constant(lengths, tf.int32)
    x *= tf.sequence_mask(lengths, tf.shape(x)[1], dtype=x.dtype)[:, :, None]
    k = cfg.stack_frames
    if k > 1:
        x = tf.pad(x, [[0, 0], [0, (-x.shape[1]) % k], [0, 0]])
        x = tf.reshape(x, [x.shape[0], -1, model.num_features * k])
        lengths = -(-lengths // k)
    if model.conv is not None:
        x = model.conv(tf.pad(x, [[0, 0], [cfg.conv_kernel - 1, 0], [0, 0]]))
        lengths = -(-lengths // max(cfg.conv_stride, 1))
    mask = tf.sequence_mask(lengths, tf.shape(x)[1])
    for rnn in model.rnns[:-1]:
        x = rnn(x, mask=mask, training=False)
    return x, lengths.numpy(), mask


def directions(model: AcousticModel) -> list[keras.layers.RNN]:
    """The top recurrent layer's direction layers: [forward] or [forward, backward]."""
    top = model.rnns[-1]
    return [top.forward_layer, top.backward_layer] if isinstance(top, keras.layers.Bidirectional) else [top]


def float64_cell(cell):
    """A float64 copy of a Keras RNN cell, holding the same weights."""
    copy = type(cell).from_config({**cell.get_config(), "dtype": "float64"})
    copy.build((None, cell.kernel.shape[0]))
    copy.set_weights([np.asarray(w, np.float64) for w in cell.get_weights()])
    return copy


def make_unroll(cell):
    """unroll(x [rows, time, dims], other [rows, time, dims2], frames [rows], tokens [rows], w_own, w_other, bias)
    -> (h, c, dL/dh, dL/dc), each [rows, time, units] float64, for L = sum over rows of -log softmax(logits)[token]
    with logits = h_T w_own + other_T w_other + bias at T = frames[row]. c and dL/dc are zeros for non-LSTM cells."""
    units = cell.units
    is_lstm = isinstance(cell, keras.layers.LSTMCell)

    @tf.function(reduce_retracing=True)
    def unroll(x, other, frames, tokens, w_own, w_other, bias):
        rows, steps = tf.shape(x)[0], tf.shape(x)[1]
        e_h = tf.zeros([rows, steps, units], F64)
        e_c = tf.zeros([rows, steps, units], F64)
        with tf.GradientTape() as tape:
            tape.watch([e_h, e_c])
            state = [tf.zeros([rows, units], F64)] * (2 if is_lstm else 1)
            hs = tf.TensorArray(F64, size=steps)
            cs = tf.TensorArray(F64, size=steps)
            for t in tf.range(steps):
                _, state = cell(x[:, t], state, training=False)
                state = [state[0] + e_h[:, t], state[1] + e_c[:, t]] if is_lstm else [state[0] + e_h[:, t]]
                hs = hs.write(t, state[0])
                cs = cs.write(t, state[1] if is_lstm else tf.zeros([rows, units], F64))
            h = tf.transpose(hs.stack(), [1, 0, 2])
            logits = (tf.gather(h, frames, batch_dims=1) @ w_own + tf.gather(other, frames, batch_dims=1) @ w_other
                      + bias)
            loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(tokens, logits))
        grad_h, grad_c = tape.gradient(loss, [e_h, e_c], unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return h, tf.transpose(cs.stack(), [1, 0, 2]), grad_h, grad_c
    return unroll


def reverse(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Reverse each row's first lengths[i] steps (padding stays at the end): [rows, time, ...]."""
    return tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0).numpy()


def probe_direction(unroll, x, own_out, other_out, lengths, targets: Targets, w_own, w_other, bias,
                    backward: bool) -> dict:
    """Run `unroll` (make_unroll) over the targets' clips. x [clips, time, dims] are the direction's inputs, own_out
    and other_out [clips, time, units] the (float32) outputs of this and the other direction, in clip time order.

    Returns dict: h, c, grad_h, grad_c [rows, time, units] and x [rows, time, dims] in the order the direction runs,
    frames [rows] (T in that order), lengths [rows], max_abs_error (the unroll against the layer's own outputs)."""
    rows_len = lengths[targets.clips]
    x, own_out, other_out = (np.asarray(a, np.float64)[targets.clips] for a in (x, own_out, other_out))
    frames = targets.frames
    if backward:
        x, own_out, other_out = (reverse(a, rows_len) for a in (x, own_out, other_out))
        frames = rows_len - 1 - frames
    h, c, grad_h, grad_c = (t.numpy() for t in unroll(
        tf.constant(x), tf.constant(other_out), tf.constant(frames, tf.int32), tf.constant(targets.tokens, tf.int32),
        tf.constant(w_own, F64), tf.constant(w_other, F64), tf.constant(bias, F64)))
    valid = np.arange(x.shape[1])[None, :] < rows_len[:, None]
    error = float(np.abs(h - own_out)[valid].max())
    return {"h": h, "c": c, "grad_h": grad_h, "grad_c": grad_c, "x": x, "frames": frames, "lengths": rows_len,
            "max_abs_error": error}


def probe_models(models: dict, features: np.ndarray, lengths: np.ndarray, targets: Targets) -> dict:
    """Probe every direction of the top layer of each model (same configuration, e.g. {"init": .., "trained": ..}).
    Returns {name: [one probe_direction dict per direction, with the cell's gate statistics under 'gates']}.
    One float64 cell (and one traced unroll) serves every direction of every model: their weights are swapped in."""
    cell = float64_cell(directions(next(iter(models.values())))[0].cell)
    unroll = make_unroll(cell)
    out = {}
    for name, model in models.items():
        x, out_lengths, mask = layer_inputs(model, features, lengths)
        layers = directions(model)
        outputs = model.rnns[-1](x, mask=mask, training=False).numpy()
        units = layers[0].cell.units
        kernel, bias = model.output_layer.kernel.numpy(), model.output_layer.bias.numpy()
        out[name] = []
        for i, layer in enumerate(layers):
            cell.set_weights([np.asarray(w, np.float64) for w in layer.cell.get_weights()])
            mine, others = slice(i * units, (i + 1) * units), slice((1 - i) * units, (2 - i) * units)
            if len(layers) == 1:
                others = slice(0, 0)
            result = probe_direction(unroll, x.numpy(), outputs[..., mine], outputs[..., others], out_lengths,
                                     targets, kernel[mine], kernel[others], bias, backward=i == 1)
            if result["max_abs_error"] > TOLERANCE:
                raise RuntimeError(f"{name}: the unrolled {layer.name} differs from the layer by "
                                   f"{result['max_abs_error']:.2g}")
            result["gates"] = gate_statistics(cell, result, first_rows(targets.clips))
            out[name].append(result)
    return out


def first_rows(clips: np.ndarray) -> np.ndarray:
    """Indices of the first row of each clip (rows of one clip share h, so statistics use one of them)."""
    return np.unique(clips, return_index=True)[1]


def gate_statistics(cell, result: dict, rows: np.ndarray, frames: np.ndarray | None = None) -> dict:
    """What multiplies the gradient at each step: tanh'(a_t) = 1 - h_t^2 and ||W_hh||_2 for the simple RNN, the update
    gate z (h_t = z h_(t-1) + (1 - z) candidate) for the GRU, the forget gate f (c_t = f c_(t-1) + i g) for the LSTM;
    means over units and the valid frames (or the `frames` mask [rows, time]) of the given rows."""
    h, x, lengths = result["h"][rows], result["x"][rows], result["lengths"][rows]
    valid = np.arange(h.shape[1])[None, :] < lengths[:, None] if frames is None else frames
    h_prev = np.concatenate([np.zeros_like(h[:, :1]), h[:, :-1]], axis=1)
    kernel, recurrent = cell.kernel.numpy().astype(np.float64), cell.recurrent_kernel.numpy().astype(np.float64)
    bias = cell.bias.numpy().astype(np.float64) if cell.use_bias else np.zeros([1, kernel.shape[1]])
    u = cell.units

    def sigmoid(a):
        return 1 / (1 + np.exp(-a))
    if isinstance(cell, keras.layers.SimpleRNNCell):
        slope = (1 - h ** 2)[valid]
        return {"name": "tanh'", "mean": float(slope.mean()), "fraction_above_0.9": float((slope > 0.9).mean()),
                "recurrent_spectral_norm": float(np.linalg.norm(recurrent, 2))}
    if isinstance(cell, keras.layers.GRUCell):
        input_bias, recurrent_bias = (bias[0], bias[1]) if bias.ndim == 2 else (bias, np.zeros_like(bias))
        z = sigmoid(x @ kernel[:, :u] + input_bias[:u] + h_prev @ recurrent[:, :u] + recurrent_bias[:u])[valid]
        return {"name": "update gate z", "mean": float(z.mean()), "fraction_above_0.9": float((z > 0.9).mean()),
                "recurrent_spectral_norm": float(np.linalg.norm(recurrent[:, 2 * u:], 2))}
    f = sigmoid(x @ kernel[:, u:2 * u] + h_prev @ recurrent[:, u:2 * u] + bias.reshape(-1)[u:2 * u])[valid]
    return {"name": "forget gate f", "mean": float(f.mean()), "fraction_above_0.9": float((f > 0.9).mean()),
            "recurrent_spectral_norm": float(np.linalg.norm(recurrent[:, 2 * u:3 * u], 2))}


def by_distance(grad: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """||grad[row, T - d]|| for d = 0..max(frames): [rows, distances] float64, NaN where T - d < 0."""
    norms = np.linalg.norm(grad, axis=-1)
    distances = np.arange(frames.max() + 1)
    steps = frames[:, None] - distances[None, :]
    out = np.take_along_axis(norms, np.maximum(steps, 0), axis=1)
    return np.where(steps >= 0, out, np.nan)


def summarise(results: list[dict], min_rows: int) -> dict:
    """Pool the directions' rows. Per distance d: the geometric means over rows of ||dL/dh_(T-d)|| and of
    ||dL/dh_(T-d)|| / ||dL/dh_T|| (with quartiles), over the rows whose T >= d, for the distances that at least
    min_rows rows reach. The same for the LSTM's c, also relative to ||dL/dh_T|| (c_T itself reaches L only
    through h_T inside the step, so dL/dc_T as measured here, through later steps, is 0). Also the largest
    ||dL/dh_t|| for t > T (must be 0: a later state cannot change an earlier output), the unroll's error and the
    gate statistics of each direction."""
    def pooled(key):
        norms = [by_distance(r[key], r["frames"]) for r in results]
        width = max(n.shape[1] for n in norms)
        return np.concatenate([np.pad(n, [(0, 0), (0, width - n.shape[1])], constant_values=np.nan) for n in norms])
    h_norms = pooled("grad_h")
    counts = np.sum(~np.isnan(h_norms), axis=0)
    keep = int(np.sum(counts >= min_rows))
    with np.errstate(divide="ignore"):
        reference = np.log10(h_norms[:, :1])
    out = {}
    for key, norms in (("h", h_norms), ("c", pooled("grad_c"))):
        if not np.nanmax(norms) > 0:  # a cell without c
            continue
        with np.errstate(divide="ignore"):
            logs = np.log10(norms[:, :keep])
        relative = logs - reference
        start = 0 if key == "h" else 1
        out[key] = {"distance": list(range(start, keep)), "rows": counts[start:keep].tolist(),
                    "log10_norm": np.nanmean(logs[:, start:], axis=0).tolist(),
                    "log10_relative": np.nanmean(relative[:, start:], axis=0).tolist(),
                    "log10_relative_q25": np.nanpercentile(relative[:, start:], 25, axis=0).tolist(),
                    "log10_relative_q75": np.nanpercentile(relative[:, start:], 75, axis=0).tolist(),
                    "zeros": int(np.sum(norms[:, start:keep] == 0))}
    after = [np.linalg.norm(r["grad_h"], axis=-1)[np.arange(r["h"].shape[1])[None, :] > r["frames"][:, None]]
             for r in results]
    out["max_norm_after_T"] = float(max((a.max() for a in after if a.size), default=0.0))
    out["max_abs_unroll_error"] = max(r["max_abs_error"] for r in results)
    out["gates"] = [r["gates"] for r in results]
    return out


def alignment_targets(log_probs: np.ndarray, out_lengths: np.ndarray, labels, per_clip: int) -> Targets:
    """Up to per_clip loss frames per clip, from a model's log posteriors [clips, time, tokens]: frames where the CTC
    forced alignment of the clip's label first emits a token, evenly spaced over those in the second half of the
    clip (so that long distances are measured)."""
    clips, frames, tokens = [], [], []
    for i, (n, label) in enumerate(zip(out_lengths, labels)):
        first = forced_align(log_probs[i, :n], label)
        late = np.flatnonzero(first >= n // 2)
        picks = late[np.unique(np.linspace(0, len(late) - 1, per_clip).round().astype(int))] if len(late) else []
        for j in picks:
            clips.append(i)
            frames.append(int(first[j]))
            tokens.append(int(label[j]))
    return Targets(np.array(clips, np.int64), np.array(frames, np.int64), np.array(tokens, np.int64))
