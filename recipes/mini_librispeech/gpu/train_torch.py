"""Train the offline phone model (BiLSTM-CTC) with PyTorch, for a session lent a GPU machine that has PyTorch and
no TensorFlow. The same model as asr/training/keras_model.py (normalise, stack frames, bidirectional LSTMs, dropout, linear
output), the same front end as asr/audio/features.py (its filterbank and settings come in export_data.py's frontend.npz),
labels, speed perturbation, SpecAugment, batching and learning-rate schedule as asr/training/train.py. import_model.py
turns what it writes into an asr model directory; it runs on a CPU too (slowly).

Two steps, so that audio too large for one upload can arrive in parts:
  python train_torch.py features DATA --audio DATA/audio0 --out feats0.pt      # decode + log-mel, per part
      [--augment-copies 3]       # and corrupted copies of each training clip (corrupt.py; train with --augmented)
  python train_torch.py train DATA --features feats0.pt feats1.pt --out OUT --layers 3 --units 256 --minutes 7
      [--synth-share 0.25]       # with synthetic clips (DATA/synthN parts, export_data.py --synth; mix.py)
A synthetic part's clips get the speeds and corrupted copies a real training clip gets; an epoch draws every real
clip once and synthetic clips up to --synth-share of its audio (mix.py). Validation is on the real valid clips.
Training fits its epochs into --minutes: it times the first epoch and sets the cosine schedule's length so that
the run ends in time. OUT gets run.json (the settings), train_log.jsonl (one line per epoch, as asr train writes
it, so `asr plot training OUT` draws it) and best.npz (asr's model.npz layout: the weights of the epoch with the lowest
validation token error rate; split into parts over --max-mb), rewritten after every epoch that improves on it.
A run stopped early (the machine taken back, the time spent) keeps those weights: `--init OUT/best*.npz` continues
from them with a new schedule, as run C continued run B (RESULTS.md). There is no mid-epoch resume: on a GPU an
epoch takes seconds.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[3]))  # the repository: asr's modules without TensorFlow
import corrupt  # noqa: E402
import layout  # noqa: E402
import mix  # noqa: E402

from asr.audio.load import AudioError, change_speed, load_audio  # noqa: E402
from asr.config import TrainConfig  # noqa: E402
from asr.training.batching import make_batches, min_ctc_frames  # noqa: E402

SPEEDS = (0.9, 1.0, 1.1)


# --- features -------------------------------------------------------------------------------------------------

_BABBLE: list = []  # [(speaker, samples)] of this part's training clips, and the room bank: set before the
_ROOMS: list = []  # workers fork, so that each has them


def _decode(job):
    """(path, sample rate, speeds, utterance id, training index, corrupted copies, seed) -> [audio at each
    speed, then each corrupted copy (corrupt.py)], or the one-line error of an unreadable file."""
    path, rate, speeds, utt_id, index, copies, seed = job
    try:
        audio = load_audio(path, rate)
    except AudioError as e:  # skipped, as asr.training.data.load_features skips it
        return str(e)
    versions = [change_speed(audio, rate, s) for s in speeds]
    return versions + corrupt.corrupted_copies(audio, utt_id, index, copies, seed, _BABBLE, _ROOMS)


class FrontEnd:
    """asr.audio.features.log_mel in PyTorch: frames not centred, periodic Hann window, |rfft|^2, mel matrix, log."""

    def __init__(self, frontend_npz, device):
        with np.load(frontend_npz) as f:
            self.filterbank = torch.tensor(f["filterbank"], device=device)
            self.rate, self.win, self.hop = int(f["sample_rate"]), int(f["window"]), int(f["hop"])
            self.fft, self.floor = int(f["fft"]), float(f["log_floor"])
        self.window = torch.hann_window(self.win, periodic=True, device=device)
        self.device = device

    def __call__(self, audio: np.ndarray) -> torch.Tensor:
        wave = torch.from_numpy(audio).to(self.device)
        if wave.numel() < self.win:
            return wave.new_zeros((0, self.filterbank.shape[1]))
        frames = wave.unfold(0, self.win, self.hop) * self.window
        power = torch.fft.rfft(frames, n=self.fft).abs().square()
        return torch.log(power @ self.filterbank + self.floor)


def compute_features(args) -> None:
    """Log-mel features of every clip found under --audio, at each speed: {(id, speed): float16 [frames, mels]};
    with --augment-copies, also each training clip's (real or synthetic) corrupted copies: {(id, "augK"): ...};
    babble from the part's training clips of other speakers (a synthetic clip's speaker: its voice)."""
    meta = json.loads((args.data / "utts.json").read_text())
    # each clip's place (the corrupted copies' seed): the synthetic clips' follow the real training clips'
    first = {"train": 0, "valid": 0, "synth": len(meta["train"])}
    clips = [(u[0], str(args.audio / u[1]), split, first[split] + i)
             for split in ("train", "valid", "synth") for i, u in enumerate(meta.get(split, []))
             if (args.audio / u[1]).exists()]
    start, out = time.time(), {}
    if args.augment_copies:
        _ROOMS[:] = corrupt.read_rooms(args.rooms or args.data / corrupt.ROOMS_FILE)
        train = [(utt_id, path) for utt_id, path, split, _ in clips if split != "valid"]
        picked = np.random.default_rng([args.augment_seed]).permutation(len(train))[:args.babble_pool]
        _BABBLE[:] = [(corrupt.speaker(train[i][0]), load_audio(train[i][1], corrupt.RATE_HZ)) for i in picked]
        print(f"{len(_ROOMS)} rooms, babble from {len(_BABBLE)} clips", flush=True)
    keys = SPEEDS + tuple(f"aug{k}" for k in range(args.augment_copies))
    with Pool(args.workers) as pool:  # started before CUDA is: the workers are forked
        front = FrontEnd(args.data / "frontend.npz", "cuda" if torch.cuda.is_available() else "cpu")
        if args.augment_copies and front.rate != corrupt.RATE_HZ:
            raise SystemExit(f"the front end runs at {front.rate} Hz, the corrupted copies at {corrupt.RATE_HZ} Hz")
        jobs = [(path, front.rate, SPEEDS, utt_id, i, args.augment_copies if split != "valid" else 0,
                 args.augment_seed) for utt_id, path, split, i in clips]
        for (utt_id, *_), result in zip(clips, pool.imap(_decode, jobs, chunksize=4)):
            if isinstance(result, str):
                print(f"warning: skipped {result}", file=sys.stderr)
                continue
            for key, audio in zip(keys, result):
                out[(utt_id, key)] = front(audio).half().cpu()
    torch.save(out, args.out)
    print(f"{args.audio}: {len(clips)} clips x {len(SPEEDS)} speeds, {args.augment_copies} corrupted copies of each "
          f"training clip -> {args.out} in {time.time() - start:.0f} s", flush=True)


# --- model ----------------------------------------------------------------------------------------------------

class Model(nn.Module):
    """asr.training.keras_model.AcousticModel (bidirectional LSTM, no convolution), PyTorch layers; the padding is masked, as there."""

    def __init__(self, num_mels: int, stack: int, units: int, layers: int, num_tokens: int, dropout: float):
        super().__init__()
        self.stack = stack
        self.register_buffer("mean", torch.zeros(num_mels))
        self.register_buffer("std", torch.ones(num_mels))
        self.lstms = nn.ModuleList(nn.LSTM(num_mels * stack if i == 0 else 2 * units, units, batch_first=True,
                                           bidirectional=True) for i in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(2 * units, num_tokens)
        self.keras_init()

    def keras_init(self) -> None:
        """Keras's initialisers: Glorot-uniform kernels, orthogonal recurrent kernels, forget-gate bias 1."""
        for lstm in self.lstms:
            for name, p in lstm.named_parameters():
                if name.startswith("weight_ih"):
                    limit = math.sqrt(6 / (p.shape[0] + p.shape[1]))
                    nn.init.uniform_(p, -limit, limit)
                elif name.startswith("weight_hh"):
                    nn.init.orthogonal_(p)
                else:
                    nn.init.zeros_(p)
                    if name.startswith("bias_ih"):
                        p.data[lstm.hidden_size:2 * lstm.hidden_size] = 1.0
        nn.init.xavier_uniform_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, features, lengths):
        """features [b, t, mels] float32 (zero padded), lengths [b] (CPU) -> (logits [b, t', tokens], lengths')."""
        t = features.shape[1]
        mask = (torch.arange(t, device=features.device)[None, :] < lengths.to(features.device)[:, None])
        x = (features - self.mean) / self.std * mask[:, :, None]
        x = nn.functional.pad(x, (0, 0, 0, (-t) % self.stack))
        x = x.reshape(x.shape[0], -1, x.shape[2] * self.stack)
        lengths = -(-lengths // self.stack)
        for lstm in self.lstms:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            x, _ = pad_packed_sequence(lstm(packed)[0], batch_first=True, total_length=x.shape[1])
            x = self.dropout(x)
        return self.out(x), lengths

    def keras_weights(self) -> dict[str, np.ndarray]:
        state = {k: v.detach().float().cpu().numpy() for k, v in self.state_dict().items()}
        return layout.torch_to_keras(state, len(self.lstms))

    def load_keras_weights(self, weights: dict[str, np.ndarray]) -> None:
        state = layout.keras_to_torch(weights, len(self.lstms))
        self.load_state_dict({k: torch.tensor(np.asarray(v, np.float32)) for k, v in state.items()})


# --- data -----------------------------------------------------------------------------------------------------

class Split:
    """Features on the device, labels and lengths of one split; `versions[c]` lists clip c's utterances (speeds,
    corrupted copies), `synthetic[c]` says whether clip c is a synthetic one (utts.json's "synth")."""

    def __init__(self, utts, feats: dict, speeds, stack: int, device, synth_utts=()):
        self.features, self.labels, self.versions, synthetic = [], [], [], []
        skipped = 0
        for n, (utt_id, _, labels) in enumerate([*utts, *synth_utts]):
            found = [feats[(utt_id, s)] for s in speeds if (utt_id, s) in feats]
            fits = [f for f in found if len(labels) and -(-len(f) // stack) >= min_ctc_frames(labels)]
            if not fits:
                skipped += bool(found)
                continue
            self.versions.append(list(range(len(self.features), len(self.features) + len(fits))))
            synthetic.append(n >= len(utts))
            self.features += [f.to(device) for f in fits]
            self.labels += [labels] * len(fits)
        self.lengths = np.array([len(f) for f in self.features])
        self.synthetic = np.array(synthetic, dtype=bool)
        self.synthetic_utts = np.repeat(self.synthetic, [len(v) for v in self.versions])  # per utterance
        if skipped:
            print(f"skipped {skipped} clip(s) too short for their transcript", flush=True)

    def epoch_indices(self, rng, synth_share: float = 0.0) -> np.ndarray:
        """Each real clip once, at one of its versions drawn at random (asr.training.train.Split.epoch_indices),
        then synthetic clips up to `synth_share` of the epoch's audio (mix.epoch_indices)."""
        return mix.epoch_indices(self.versions, self.synthetic, self.lengths, synth_share, rng)

    def batch(self, indices):
        x = pad_sequence([self.features[i].float() for i in indices], batch_first=True)
        lengths = torch.tensor(self.lengths[indices])
        labels = [self.labels[i] for i in indices]
        targets = torch.tensor([t for lab in labels for t in lab], dtype=torch.long)
        return x, lengths, targets, torch.tensor([len(lab) for lab in labels])


def spec_augment(x, lengths, mean, rng: torch.Generator, freq_masks: int, freq_width: int, time_masks: int,
                 time_fraction: float):
    """asr.training.train.spec_augment: random mel bands and time spans of each clip set to the mean feature."""
    b, t, m = x.shape
    dev = x.device
    masked = torch.zeros(b, t, m, dtype=torch.bool, device=dev)
    mel_idx, frame_idx = torch.arange(m, device=dev)[None, None, :], torch.arange(t, device=dev)[None, :, None]
    for _ in range(freq_masks):
        width = torch.randint(0, freq_width + 1, (b, 1, 1), generator=rng).to(dev)
        start = (torch.rand(b, 1, 1, generator=rng).to(dev) * (m - width)).long()
        masked |= (mel_idx >= start) & (mel_idx < start + width)
    lengths = lengths.to(dev)[:, None, None]
    max_width = (lengths * time_fraction).long()
    for _ in range(time_masks):
        width = (torch.rand(b, 1, 1, generator=rng).to(dev) * (max_width + 1)).long()
        start = (torch.rand(b, 1, 1, generator=rng).to(dev) * (lengths - width).clamp(min=0)).long()
        masked |= (frame_idx >= start) & (frame_idx < start + width)
    return torch.where(masked, mean[None, None, :], x)


def ctc_loss(model, x, lengths, targets, target_lengths):
    """Per-utterance CTC loss [b] (infinite ones zeroed, as asr.training.train.ctc_loss), logits, output lengths."""
    logits, out_lengths = model(x, lengths)
    log_probs = logits.float().log_softmax(-1).transpose(0, 1)
    loss = nn.functional.ctc_loss(log_probs, targets.to(x.device), out_lengths.to(x.device),
                                  target_lengths.to(x.device), blank=0, reduction="none", zero_infinity=True)
    return loss, logits, out_lengths


def edit_distance(a, b) -> int:
    """Levenshtein distance, one NumPy row at a time (insertions as a running minimum along the row)."""
    b = np.asarray(b)
    steps = np.arange(len(b) + 1)
    prev = steps.copy()
    for i, x in enumerate(a, 1):
        cur = np.empty_like(prev)
        cur[0] = i
        cur[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (b != x))
        prev = np.minimum.accumulate(cur - steps) + steps
    return int(prev[-1])


@torch.no_grad()
def validate(model, split: Split, space_id: int) -> dict:
    """Greedy decoding of every valid clip: mean CTC loss, token error rate (phones and word boundaries; asr's
    valid CER) and pronunciation error rate (whole pronunciations; asr's valid WER)."""
    if not split.features:
        return {}
    model.eval()
    losses, tok_err, tok_n, word_err, word_n = [], 0, 0, 0, 0
    order = np.argsort(split.lengths)
    for start in range(0, len(order), 16):
        idx = order[start:start + 16]
        x, lengths, targets, target_lengths = split.batch(idx)
        loss, logits, out_lengths = ctc_loss(model, x.to(model.mean.device), lengths, targets, target_lengths)
        losses += loss.tolist()
        best = logits.argmax(-1).cpu().numpy()
        for row, n, i in zip(best, out_lengths.tolist(), idx):
            hyp = [int(t) for j, t in enumerate(row[:n]) if t != 0 and (j == 0 or t != row[j - 1])]
            ref = split.labels[i]
            tok_err += edit_distance(ref, hyp)
            tok_n += len(ref)
            words = lambda ids: " ".join(map(str, ids)).split(f" {space_id} ")  # noqa: E731
            word_err += edit_distance(words(ref), words(hyp))
            word_n += len(words(ref))
    model.train()
    return {"valid_loss": float(np.mean(losses)), "valid_cer": tok_err / tok_n, "valid_wer": word_err / word_n}


# --- training -------------------------------------------------------------------------------------------------

def learning_rate(step: int, peak: float, warmup: int, total: int, final_fraction: float) -> float:
    """asr.training.train.make_optimizer's schedule: linear warm-up, then cosine decay to final_fraction of the peak."""
    if step < warmup:
        return peak * step / warmup
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return peak * (final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress)))


def save_best(model, out: Path, max_mb: float) -> None:
    """out/best.partN.npz: written as next.partN.npz, then renamed (a run killed meanwhile keeps a whole set)."""
    written = layout.write_model_npz(model.keras_weights(), out / "next.npz", max_bytes=int(max_mb * 1e6))
    for old in out.glob("best*.npz"):
        old.unlink()
    for path in written:
        os.replace(path, out / Path(path).name.replace("next", "best", 1))


def train(args) -> None:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    meta = json.loads((args.data / "utts.json").read_text())
    feats = {}
    for path in args.features:
        if Path(path).exists():
            feats.update(torch.load(path))
        else:
            print(f"warning: {path}: missing, its clips are left out", flush=True)
    corrupted = sorted({key for _, key in feats if isinstance(key, str)}) if args.augmented else []
    synth_utts = meta.get("synth", []) if args.synth_share else []
    train_split = Split(meta["train"], feats, SPEEDS + tuple(corrupted), args.stack, device, synth_utts)
    print(f"training versions of each clip: speeds {SPEEDS}, corrupted copies {corrupted or 'none'}", flush=True)
    hours, synth_hours = (sum(len(feats[(u[0], 1.0)]) for u in utts if (u[0], 1.0) in feats) / 360000  # speed 1
                          for utts in (meta["train"], synth_utts))
    if args.synth_share and not train_split.synthetic.any():
        raise SystemExit(f"--synth-share {args.synth_share}: no synthetic clip's features in "
                         f"{' '.join(map(str, args.features))} (export_data.py --synth, then features of DATA/synthN)")
    valid_split = Split(meta["valid"], feats, (1.0,), args.stack, device)
    del feats
    if not train_split.features:
        raise SystemExit(f"{' '.join(map(str, args.features))}: no features of any training clip of {args.data}")
    model = Model(meta["feature_config"]["num_mels"], args.stack, args.units, args.layers, meta["num_tokens"],
                  args.dropout).to(device)
    if args.init:
        model.load_keras_weights(layout.read_model_npz(args.init))
    else:  # asr.training.data.feature_stats over the real training features (every version)
        frames = torch.cat([train_split.features[i] for v, s in zip(train_split.versions, train_split.synthetic)
                            if not s for i in v]).float()
        model.mean.copy_(frames.mean(0))
        model.std.copy_(frames.std(0, unbiased=False).clamp(min=1e-3))
        del frames
    optimizer = torch.optim.Adam(model.parameters(), lr=0.0, eps=1e-7)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train_log.jsonl").write_text("")  # a new run (continuing one is --init from its best.npz)
    params = sum(p.numel() for p in model.parameters())
    synth_clips = int(train_split.synthetic.sum())
    print(f"{params:,} parameters; {len(train_split.versions) - synth_clips} real clips ({hours:.2f} h), "
          f"{synth_clips} synthetic ({synth_hours:.2f} h, share {args.synth_share}), {len(valid_split.versions)} "
          f"valid clips; device {device}", flush=True)
    run = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    run.update(parameters=params, device=torch.cuda.get_device_name() if device == "cuda" else "cpu",
               train_clips=len(train_split.versions) - synth_clips, train_hours=hours, synth_clips=synth_clips,
               synth_hours=synth_hours)
    deadline = time.time() + args.minutes * 60
    epochs, step, best, started = args.max_epochs, 0, None, time.time()
    total_steps = 10 ** 9
    for epoch in range(args.max_epochs):
        if epoch >= epochs:
            break
        epoch_start = time.time()
        chosen = train_split.epoch_indices(rng, args.synth_share)
        batches = [chosen[b] for b in make_batches(train_split.lengths[chosen], args.batch_frames, args.max_batch,
                                                   rng)]
        losses = []
        for indices in batches:
            x, lengths, targets, target_lengths = train_split.batch(indices)
            if args.spec_augment:
                x = spec_augment(x, lengths, model.mean, gen, args.freq_masks, args.freq_mask_width,
                                 args.time_masks, args.time_mask_fraction)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, args.lr, args.warmup, total_steps, args.final_lr_fraction)
            loss = ctc_loss(model, x, lengths, targets, target_lengths)[0].mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip_norm)
            optimizer.step()
            losses.append(loss.item())
            step += 1
        result = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "step": step,
                  "synth_clips": int(train_split.synthetic_utts[chosen].sum()),
                  "synth_fraction": float(train_split.lengths[chosen][train_split.synthetic_utts[chosen]].sum()
                                          / train_split.lengths[chosen].sum()),
                  **validate(model, valid_split, meta["space_id"]), "seconds": time.time() - started,
                  "lr": optimizer.param_groups[0]["lr"]}
        if epoch == 0:  # fit the schedule (and the run) into the time left, at this epoch's pace
            per_epoch = time.time() - epoch_start
            epochs = max(1, min(args.max_epochs, 1 + int((deadline - time.time()) / per_epoch)))
            total_steps = epochs * len(batches)
            result["planned_epochs"] = epochs
            (args.out / "run.json").write_text(json.dumps({**run, "planned_epochs": epochs,
                                                           "steps_per_epoch": len(batches)}, indent=2) + "\n")
        if "valid_cer" not in result or best is None or result["valid_cer"] <= best:  # no valid clips: the last
            best = result.get("valid_cer")
            save_best(model, args.out, args.max_mb)
            result["best"] = True
        with open(args.out / "train_log.jsonl", "a") as f:
            f.write(json.dumps(result) + "\n")
        print(json.dumps(result), flush=True)
        if time.time() > deadline:
            print("stopped at the time limit", flush=True)
            break


def share_arg(text: str) -> float:
    try:
        return mix.check_share(float(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("features")
    f.add_argument("data", type=Path)
    f.add_argument("--audio", type=Path, required=True)
    f.add_argument("--out", type=Path, required=True)
    f.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    f.add_argument("--augment-copies", type=int, default=0, help="corrupted copies of each training clip (corrupt.py)")
    f.add_argument("--rooms", type=Path, default=None, help=f"the room bank (default: DATA/{corrupt.ROOMS_FILE})")
    f.add_argument("--augment-seed", type=int, default=7)
    f.add_argument("--babble-pool", type=int, default=64, help="training clips of the part that babble is made of")
    t = sub.add_parser("train")
    t.add_argument("data", type=Path)
    t.add_argument("--features", nargs="+", required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--init", nargs="*", default=None, help="asr model.npz (or its parts) to start from")
    t.add_argument("--layers", type=int, default=3)
    t.add_argument("--units", type=int, default=256)
    t.add_argument("--stack", type=int, default=4)
    t.add_argument("--dropout", type=float, default=0.15)
    t.add_argument("--lr", type=float, default=4e-4)
    t.add_argument("--warmup", type=int, default=100)
    t.add_argument("--final-lr-fraction", type=float, default=0.05)
    t.add_argument("--clip-norm", type=float, default=5.0)
    t.add_argument("--batch-frames", type=int, default=24000)
    t.add_argument("--max-batch", type=int, default=32)
    t.add_argument("--no-spec-augment", dest="spec_augment", action="store_false")
    t.add_argument("--augmented", action="store_true",
                   help="also draw each clip's corrupted copies (features --augment-copies), as one of its versions")
    asr_train = TrainConfig()  # SpecAugment: asr's train config, its names and defaults
    t.add_argument("--freq-masks", type=int, default=asr_train.freq_masks)
    t.add_argument("--freq-mask-width", type=int, default=asr_train.freq_mask_width)
    t.add_argument("--time-masks", type=int, default=asr_train.time_masks)
    t.add_argument("--time-mask-fraction", type=float, default=asr_train.time_mask_fraction)
    t.add_argument("--synth-share", type=share_arg, default=0.0, metavar="F",
                   help="synthetic clips (utts.json's synth) up to this fraction of each epoch's audio (mix.py); "
                        "0: real clips only")
    t.add_argument("--minutes", type=float, default=7.0)
    t.add_argument("--max-epochs", type=int, default=200)
    t.add_argument("--max-mb", type=float, default=15.0)
    t.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    compute_features(args) if args.command == "features" else train(args)


if __name__ == "__main__":
    main()
