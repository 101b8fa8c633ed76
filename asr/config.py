"""Typed configuration: frozen dataclasses, TOML overrides, and an error for any unknown key."""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

STRATEGIES = ("default", "mirrored", "multi_worker")  # train.strategy; see asr/training/distribute.py


@dataclass(frozen=True)
class FeatureConfig:
    """Log-mel front end. Derived sizes (samples per window/hop, FFT size) are computed in features.py."""

    sample_rate_hz: int = 16000
    window_ms: float = 25.0
    hop_ms: float = 10.0
    num_mels: int = 80
    min_hz: float = 20.0
    max_hz: float | None = None  # None means sample_rate_hz / 2
    log_floor: float = 1e-6


@dataclass(frozen=True)
class ModelConfig:
    """Acoustic model: time subsampling, recurrent layers, dense output over tokens + blank."""

    cell: str = "lstm"  # "rnn" (tanh simple RNN), "gru" or "lstm"
    bidirectional: bool = True
    layers: int = 3
    units: int = 256
    stack_frames: int = 4  # concatenate this many frames (time subsampling by stacking); 1 disables
    conv_channels: int = 0  # 0 disables the strided convolution
    conv_kernel: int = 3
    conv_stride: int = 1
    dropout: float = 0.1
    num_tokens: int = 29  # output size, blank included; set from the vocabulary
    tokens: str = "chars"  # output units: "chars" (a-z, apostrophe, space) or "phones" (ARPAbet, asr/decoding/phones.py)

    @property
    def subsampling(self) -> int:
        """Model output frames per input feature frame (the time reduction factor)."""
        return self.stack_frames * max(self.conv_stride, 1)

    def same_encoder(self, other: "ModelConfig") -> bool:
        """Whether `other`'s weights fit this model below the output layer: dropout and output tokens aside,
        the same configuration (a run may start from another's weights with other dropout or tokens)."""
        encoder = lambda m: dataclasses.replace(m, dropout=0.0, tokens="", num_tokens=0)  # noqa: E731
        return encoder(self) == encoder(other)


AUGMENT_KINDS = ("noise", "babble", "reverb", "telephone", "gain", "reverb+noise")  # asr/training/augment.py


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 20
    batch_frames: int = 16000  # feature frames per batch (sum over the batch of the longest clip times count)
    max_batch_size: int = 64
    learning_rate: float = 1e-3
    warmup_steps: int = 300
    final_lr_fraction: float = 0.05  # cosine decay ends at learning_rate * this
    clip_norm: float = 5.0
    spec_augment: bool = True
    freq_masks: int = 2
    freq_mask_width: int = 15
    time_masks: int = 2
    time_mask_fraction: float = 0.05  # each time mask covers at most this fraction of the clip
    pad_silence_max_s: float = 0.0  # put 0..this many seconds of quiet frames before and after each clip
    pad_lead_s: tuple[float, float] | None = None  # (min, max) seconds of quiet before each clip, if not the above
    precision: str = "float32"  # or "mixed_bfloat16"
    checkpoint_minutes: float = 5.0
    keep_checkpoints: int = 2
    validate_utterances: int = 400  # greedy WER each epoch on the first this many validation clips (0: all)
    seed: int = 0
    init_from: str = ""  # model directory whose weights start a new run (fine-tuning / a warm restart)
    # speed perturbation: each epoch every training clip is played at one of these speeds, drawn at random (its
    # features at each speed are computed once and cached); 1.0 alone turns it off
    speeds: tuple[float, ...] = (1.0,)
    # corrupted versions: this many more versions of each training clip, each corrupted by one of augment_kinds
    # (asr/training/augment.py: noise, babble of other training speakers, simulated rooms, telephone channel,
    # gain) with settings drawn per clip from the run's seed; computed once, cached, and drawn from with the speeds
    augment_copies: int = 0
    augment_kinds: tuple[str, ...] = AUGMENT_KINDS
    # normalise each clip's features by its own mean, as decoding.json's utterance_mean decodes (each clip is
    # shifted to the model's mean before the model's normalisation; validation likewise)
    utterance_mean: bool = False
    # "default" (one device), "mirrored" (this host's GPUs) or "multi_worker" (hosts in TF_CONFIG); the batch
    # budgets above stay global, split over the replicas (asr/training/distribute.py). How to run, not what to train: a
    # run may resume under another strategy.
    strategy: str = "default"

    def __post_init__(self):
        if self.pad_lead_s is not None and (len(self.pad_lead_s) != 2 or not
                                            0 <= self.pad_lead_s[0] <= self.pad_lead_s[1]):
            raise ValueError(f"train.pad_lead_s must be [min, max] seconds with 0 <= min <= max, "
                             f"got {self.pad_lead_s!r}")
        object.__setattr__(self, "speeds", tuple(float(s) for s in self.speeds))  # TOML and JSON give lists
        if not self.speeds or not all(0.5 <= s <= 2.0 for s in self.speeds):
            raise ValueError(f"train.speeds must be one or more speeds between 0.5 and 2.0, got {self.speeds!r}")
        object.__setattr__(self, "augment_kinds", tuple(self.augment_kinds))
        if self.augment_copies < 0 or not self.augment_kinds or not set(self.augment_kinds) <= set(AUGMENT_KINDS):
            raise ValueError(f"train.augment_copies must be >= 0 and train.augment_kinds one or more of "
                             f"{', '.join(AUGMENT_KINDS)}; got {self.augment_copies!r} and {self.augment_kinds!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"train.strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")


@dataclass(frozen=True)
class Config:
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path) -> None:
        """Write as JSON, atomically: a reader (or a run killed meanwhile) never sees half a file."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        os.replace(tmp, path)


def _build(cls, values: dict, where: str):
    """Instantiate dataclass `cls` from a dict, recursing into nested dataclasses; unknown keys raise."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"unknown config key(s) in {where or 'top level'}: {', '.join(unknown)}; "
                         f"expected one of {', '.join(sorted(names))}")
    kwargs = {}
    for key, value in values.items():
        sub = names[key].default_factory if names[key].default_factory is not dataclasses.MISSING else None
        if sub is not None and dataclasses.is_dataclass(sub):
            if not isinstance(value, dict):
                raise ValueError(f"config section {f'{where}.{key}'.lstrip('.')} must be a table, got {value!r}")
            kwargs[key] = _build(sub, value, f"{where}.{key}".lstrip("."))
        else:
            kwargs[key] = value
    return cls(**kwargs)


def from_dict(values: dict) -> Config:
    return _build(Config, values, "")


def merge(base: dict, overrides: dict) -> dict:
    """Recursively apply `overrides` onto a copy of `base` (both plain dicts)."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load(path=None, overrides: dict | None = None) -> Config:
    """Defaults, then a TOML (or JSON) file of overrides, then `overrides`; validated at every level."""
    values = Config().to_dict()
    if path is not None:
        path = Path(path)
        text = path.read_text()
        file_values = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        from_dict(merge(values, file_values))  # report unknown keys against the file before merging more
        values = merge(values, file_values)
    if overrides:
        values = merge(values, overrides)
    return from_dict(values)


def parse_override(text: str) -> dict:
    """'model.units=128' -> {'model': {'units': 128}}; the value is parsed as TOML (strings may be bare)."""
    key, sep, raw = text.partition("=")
    raw = raw.strip()
    if not sep:
        raise ValueError(f"override {text!r} must look like section.key=value")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    out: dict = value
    for part in reversed(key.strip().split(".")):
        out = {part: out}
    return out
