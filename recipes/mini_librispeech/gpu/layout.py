"""The acoustic model's weights in two layouts: asr's (Keras: model.npz, asr/training/keras_model.py) and PyTorch's (nn.LSTM and
nn.Linear in train_torch.py). NumPy only, so both the GPU machine (PyTorch, no TensorFlow) and asr can use it.

Keras LSTM: kernel [in, 4u], recurrent_kernel [u, 4u], one bias [4u]; gates in the order i, f, c, o.
PyTorch LSTM: weight_ih [4u, in], weight_hh [4u, u], bias_ih and bias_hh [4u]; gates i, f, g, o (the same order).
So a kernel is a transposed weight, and the Keras bias is the sum of the two PyTorch biases.
Only bidirectional LSTM models without a convolution (the offline phone model) are covered.
"""
from __future__ import annotations

import numpy as np

PREFIX = "acoustic_model"


def keras_names(layers: int) -> list[str]:
    """The weight names of asr's model.npz, in the model's creation order (asr.training.keras_model.save_weights)."""
    names = [f"{PREFIX}/feature_mean", f"{PREFIX}/feature_std"]
    for i in range(layers):
        for direction in ("forward", "backward"):
            cell = f"{PREFIX}/bilstm_{i}/{direction}_lstm_{i}/lstm_cell"
            names += [f"{cell}/kernel", f"{cell}/recurrent_kernel", f"{cell}/bias"]
    return names + [f"{PREFIX}/logits/kernel", f"{PREFIX}/logits/bias"]


def _torch_suffix(direction: str) -> str:
    return "_l0" if direction == "forward" else "_l0_reverse"


def torch_to_keras(state: dict[str, np.ndarray], layers: int) -> dict[str, np.ndarray]:
    """PyTorch state (keys as train_torch.Model names them: mean, std, lstms.I.weight_ih_l0[_reverse], ...,
    out.weight, out.bias) -> {asr weight name: array}, in asr's order."""
    out = {f"{PREFIX}/feature_mean": state["mean"], f"{PREFIX}/feature_std": state["std"]}
    for i in range(layers):
        for direction in ("forward", "backward"):
            s, cell = _torch_suffix(direction), f"{PREFIX}/bilstm_{i}/{direction}_lstm_{i}/lstm_cell"
            out[f"{cell}/kernel"] = state[f"lstms.{i}.weight_ih{s}"].T
            out[f"{cell}/recurrent_kernel"] = state[f"lstms.{i}.weight_hh{s}"].T
            out[f"{cell}/bias"] = state[f"lstms.{i}.bias_ih{s}"] + state[f"lstms.{i}.bias_hh{s}"]
    out[f"{PREFIX}/logits/kernel"] = state["out.weight"].T
    out[f"{PREFIX}/logits/bias"] = state["out.bias"]
    return {name: np.ascontiguousarray(out[name]) for name in keras_names(layers)}


def keras_to_torch(weights: dict[str, np.ndarray], layers: int) -> dict[str, np.ndarray]:
    """The inverse of torch_to_keras (the Keras bias goes to bias_ih; bias_hh is zero)."""
    state = {"mean": weights[f"{PREFIX}/feature_mean"], "std": weights[f"{PREFIX}/feature_std"]}
    for i in range(layers):
        for direction in ("forward", "backward"):
            s, cell = _torch_suffix(direction), f"{PREFIX}/bilstm_{i}/{direction}_lstm_{i}/lstm_cell"
            state[f"lstms.{i}.weight_ih{s}"] = weights[f"{cell}/kernel"].T
            state[f"lstms.{i}.weight_hh{s}"] = weights[f"{cell}/recurrent_kernel"].T
            state[f"lstms.{i}.bias_ih{s}"] = weights[f"{cell}/bias"]
            state[f"lstms.{i}.bias_hh{s}"] = np.zeros_like(weights[f"{cell}/bias"])
    state["out.weight"] = weights[f"{PREFIX}/logits/kernel"].T
    state["out.bias"] = weights[f"{PREFIX}/logits/bias"]
    return {key: np.ascontiguousarray(value) for key, value in state.items()}


def read_model_npz(paths) -> dict[str, np.ndarray]:
    """{name: array} from an asr model.npz, or from the parts of one split by write_model_npz."""
    out: dict[str, np.ndarray] = {}
    for path in [paths] if isinstance(paths, (str, bytes)) or hasattr(paths, "read_bytes") else paths:
        with np.load(path) as data:
            out.update({str(name): data[f"w{i:03d}"] for i, name in zip(data["index"], data["names"])}
                       if "index" in data else {str(n): data[f"w{i:03d}"] for i, n in enumerate(data["names"])})
    return out


def write_model_npz(weights: dict[str, np.ndarray], path, dtype=np.float16, max_bytes: int | None = None) -> list:
    """weights (in asr's order) as asr's model.npz (w000, w001, ..., names); with max_bytes, as several files
    PATH.partN.npz of at most about that many bytes each (each also holding the global `index` of its weights),
    for read_model_npz to join. Returns the paths written."""
    items = [(name, np.asarray(value, dtype)) for name, value in weights.items()]
    if max_bytes is None:
        np.savez(path, **{f"w{i:03d}": v for i, (_, v) in enumerate(items)}, names=np.array([n for n, _ in items]))
        return [path]
    groups, current, size = [], [], 0
    for i, (name, value) in enumerate(items):
        if current and size + value.nbytes > max_bytes:
            groups.append(current)
            current, size = [], 0
        current.append(i)
        size += value.nbytes
    groups.append(current)
    written = []
    for part, indices in enumerate(groups):
        part_path = f"{str(path).removesuffix('.npz')}.part{part}.npz"
        np.savez(part_path, **{f"w{i:03d}": items[i][1] for i in indices},
                 names=np.array([items[i][0] for i in indices]), index=np.array(indices))
        written.append(part_path)
    return written
