"""PNG pictures: training curves of an experiment, and a clip's spectrogram with its CTC alignment.

matplotlib is optional (pip install 'asr[plots]') and imported only here.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("plots need matplotlib: pip install 'asr[plots]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_training(exp_dir, out_png) -> Path:
    """Training loss and validation WER/CER per epoch, from exp_dir/train_log.jsonl."""
    log = Path(exp_dir) / "train_log.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"{log}: no finished epoch yet")
    plt = _pyplot()
    epochs = [r["epoch"] for r in rows]
    fig, (loss_ax, err_ax) = plt.subplots(1, 2, figsize=(10, 3.6))
    loss_ax.plot(epochs, [r["train_loss"] for r in rows], label="train")
    loss_ax.plot(epochs, [r["valid_loss"] for r in rows], label="validation")
    loss_ax.set(xlabel="epoch", ylabel="CTC loss per utterance", yscale="log", title="loss")
    loss_ax.legend()
    err_ax.plot(epochs, [100 * r["valid_wer"] for r in rows], label="WER")
    err_ax.plot(epochs, [100 * r["valid_cer"] for r in rows], label="CER")
    err_ax.set(xlabel="epoch", ylabel="%", title="validation error (greedy)", ylim=(0, None))
    err_ax.legend()
    fig.suptitle(str(exp_dir))
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return Path(out_png)


def plot_alignment(transcriber, audio_path, out_png) -> Path:
    """Log-mel spectrogram of a clip, the model's per-frame token posteriors, and the words with their times."""
    from asr.audio.features import log_mel
    from asr.audio.load import load_audio
    plt = _pyplot()
    samples = load_audio(audio_path, transcriber.sample_rate_hz)
    features = log_mel(samples, transcriber.config.features)
    log_probs = transcriber.log_probs(samples)
    result = transcriber.decode(log_probs, len(samples) / transcriber.sample_rate_hz)
    hop_s = transcriber.config.features.hop_ms / 1000
    fig, (spec_ax, post_ax) = plt.subplots(2, 1, figsize=(11, 5.5), sharex=True)
    spec_ax.imshow(features.T, origin="lower", aspect="auto", extent=[0, len(features) * hop_s, 0, features.shape[1]])
    spec_ax.set(ylabel="mel bin", title=f"{Path(audio_path).name}: {result.text}")
    probs = np.exp(log_probs).T
    post_ax.imshow(probs, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest",
                   extent=[0, len(log_probs) * transcriber.frame_s, -0.5, probs.shape[0] - 0.5])
    post_ax.set_yticks(range(transcriber.vocab.size))
    post_ax.set_yticklabels(["_" if s == "<blank>" else ("␣" if s == " " else s)
                             for s in transcriber.vocab.symbols()], fontsize=6)
    post_ax.set(xlabel="time (s)", ylabel="token posterior")
    for w in result.words:
        for ax in (spec_ax, post_ax):
            ax.axvspan(w.start_s, w.end_s, color="tab:orange", alpha=0.15)
        spec_ax.text((w.start_s + w.end_s) / 2, features.shape[1] * 0.92, w.word, ha="center", fontsize=8,
                     color="white")
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return Path(out_png)
