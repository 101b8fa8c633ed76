"""The report of recipes/rnn_cells/run.py: PNGs and RESULTS.md, every number read from the run's own outputs.

Read top to bottom: load (a run's files) -> the four pictures -> the tables -> write.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
from pathlib import Path

import numpy as np

from asr.training.plots import _pyplot, plot_alignment

COLORS = {"rnn": "tab:red", "gru": "tab:green", "lstm": "tab:blue"}
LABELS = {"rnn": "simple RNN", "gru": "GRU", "lstm": "LSTM"}
DISTANCES = (1, 5, 10, 20, 40, 80, 160)  # output frames back from the loss, in the gradient tables
PNGS = ("gradient_norms.png", "training.png", "clipping.png", "memory.png", "alignment.png", "alignment_rnn.png")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load(run) -> dict:
    """Everything the report uses from one run's folder."""
    d = run.dir
    test = next(d.glob("eval-*/summary.json"), None)
    return {"run": run, "log": read_jsonl(d / "train_log.jsonl"),
            "best": json.loads((d / "best" / "metrics.json").read_text()),
            "wall_s": json.loads((d / "timing.json").read_text())["wall_s"] if (d / "timing.json").exists() else None,
            "test": json.loads(test.read_text()) if test else None,
            "gradients": json.loads((d / "gradients.json").read_text()),
            "config": json.loads((d / "config.json").read_text())}


def relative_at(curve: dict, distance: int) -> float | None:
    """Mean log10 ||dL/dh_(T-d)|| / ||dL/dh_T|| at distance d, or None beyond the measured range."""
    if distance not in curve["distance"]:
        return None
    return curve["log10_relative"][curve["distance"].index(distance)]


def decay_per_step(curve: dict) -> float:
    """The per-step factor of a least-squares exponential fit to the relative norm over distances >= 1."""
    d = np.array(curve["distance"])
    y = np.array(curve["log10_relative"])
    keep = (d >= 1) & np.isfinite(y)
    if keep.sum() < 2:
        return float("nan")
    return float(10 ** np.polyfit(d[keep], y[keep], 1)[0])


# ------------------------------------------------------------------------------------------------- pictures

def plot_gradients(results: list[dict], datasets: list, out_png: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(len(datasets), 2, figsize=(11, 3.8 * len(datasets)), squeeze=False)
    for row, ds in enumerate(datasets):
        for col, bidirectional in enumerate((False, True)):
            ax = axes[row, col]
            frame_s = None
            for r in results:
                run = r["run"]
                if run.dataset is not ds or run.bidirectional != bidirectional:
                    continue
                frame_s = r["gradients"]["probe"]["frame_s"]
                color = COLORS[run.cell]
                for name, style in (("init", "--"), ("trained", "-")):
                    curve = r["gradients"][name]["h"]
                    ax.plot(curve["distance"], 10 ** np.array(curve["log10_relative"]), style, color=color,
                            label=f"{LABELS[run.cell]} h, {name}")
                    if name == "trained":
                        ax.fill_between(curve["distance"], 10 ** np.array(curve["log10_relative_q25"]),
                                        10 ** np.array(curve["log10_relative_q75"]), color=color, alpha=0.12)
                    if "c" in r["gradients"][name]:
                        c = r["gradients"][name]["c"]
                        ax.plot(c["distance"], 10 ** np.array(c["log10_relative"]), color=color,
                                linestyle=":" if name == "trained" else (0, (1, 4)), label=f"LSTM c, {name}")
            ax.set_yscale("log")
            unit = f"output frames of {frame_s * 1000:.0f} ms" if frame_s else "output frames"
            ax.set(xlabel=f"T - t ({unit})", ylabel="||dL_T/dh_t|| / ||dL_T/dh_T||",
                   title=f"{ds.title}, {'bidirectional (both directions)' if bidirectional else 'unidirectional'}")
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize=7, ncol=2)
    fig.suptitle("gradient of one frame's loss with respect to earlier hidden states (geometric mean over clips and "
                 "frames; band: quartiles after training)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    plt.close(fig)


def plot_training(results: list[dict], datasets: list, out_png: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(len(datasets), 4, figsize=(15, 3.4 * len(datasets)), squeeze=False)
    for row, ds in enumerate(datasets):
        for col, bidirectional in enumerate((False, True)):
            loss_ax, err_ax = axes[row, col], axes[row, col + 2]
            direction = "bi" if bidirectional else "uni"
            for r in results:
                run = r["run"]
                if run.dataset is not ds or run.bidirectional != bidirectional:
                    continue
                epochs = [e["epoch"] for e in r["log"]]
                color = COLORS[run.cell]
                loss_ax.plot(epochs, [e["train_loss"] for e in r["log"]], "-", color=color,
                             label=f"{LABELS[run.cell]} train")
                loss_ax.plot(epochs, [e["valid_loss"] for e in r["log"]], "--", color=color, label="validation")
                err_ax.plot(epochs, [100 * e["valid_wer"] for e in r["log"]], "-", color=color,
                            label=f"{LABELS[run.cell]} WER")
                err_ax.plot(epochs, [100 * e["valid_cer"] for e in r["log"]], "--", color=color, label="CER")
            loss_ax.set(xlabel="epoch", ylabel="CTC loss per utterance", yscale="log",
                        title=f"{ds.name}, {direction}: loss")
            err_ax.set(xlabel="epoch", ylabel="% (validation, greedy)", title=f"{ds.name}, {direction}: WER, CER",
                       ylim=(0, None))
            for ax in (loss_ax, err_ax):
                ax.legend(fontsize=7, ncol=2)
                ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png, dpi=80)
    plt.close(fig)


def loss_per_second(records: list[dict]) -> np.ndarray:
    """Each step's mean CTC loss per second of audio (a batch's loss grows with its clips' length); NaN where the
    step was not finite."""
    return np.array([r["loss"] / r["mean_clip_s"] if r["finite"] else np.nan for r in records])


def smooth(values: np.ndarray, width: int = 10) -> np.ndarray:
    """Running mean over the last `width` finite values (NaN stays NaN)."""
    out = np.full(len(values), np.nan)
    for i in range(len(values)):
        window = values[max(0, i - width + 1):i + 1]
        if np.isfinite(values[i]):
            out[i] = np.nanmean(window)
    return out


def plot_clipping(runs: dict[str, list[dict]], out_png: Path) -> None:
    plt = _pyplot()
    fig, (loss_ax, norm_ax) = plt.subplots(1, 2, figsize=(12, 4))
    for name, records in runs.items():
        steps = np.array([r["step"] for r in records])
        per_s = loss_per_second(records)
        line, = loss_ax.plot(steps, smooth(per_s), label=name, linestyle="--" if "sgd" in name else "-")
        loss_ax.plot(steps, per_s, color=line.get_color(), alpha=0.2, linewidth=0.8)
        norm_ax.plot(steps, [r["grad_norm"] if r["grad_norm"] else np.nan for r in records],
                     color=line.get_color(), linestyle=line.get_linestyle(), label=name)
        bad = steps[~np.isfinite(per_s)]
        if len(bad):
            loss_ax.plot(bad, np.full(len(bad), np.nanmax(per_s)), "x", color=line.get_color(), markersize=8)
    loss_ax.set(xlabel="step", ylabel="CTC loss per second of audio", title="training loss (running mean of 10 steps; "
                "x: diverged, every loss infinite)")
    norm_ax.set(xlabel="step", ylabel="global gradient norm before clipping", yscale="log", title="gradient norm")
    for ax in (loss_ax, norm_ax):
        ax.legend(fontsize=7)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    plt.close(fig)


def plot_memory(memory: list[dict], out_png: Path) -> None:
    plt = _pyplot()
    delays = sorted({m["delay_frames"] for m in memory})
    fig, axes = plt.subplots(1, len(delays), figsize=(4.2 * len(delays), 3.6), squeeze=False)
    for ax, delay in zip(axes[0], delays):
        for m in memory:
            if m["delay_frames"] != delay:
                continue
            g = m["gradient_at_word"]
            ax.plot([h["epoch"] for h in m["history"]], [100 * h["test_accuracy"] for h in m["history"]],
                    color=COLORS[m["cell"]], marker="o", markersize=3,
                    label=f"{LABELS[m['cell']]} (gradient at word 10^{g['init']['log10_relative_mean']:.1f} -> "
                          f"10^{g['trained']['log10_relative_mean']:.1f})")
        ax.axhline(10, color="grey", linestyle=":", linewidth=1)
        ax.set(xlabel="epoch", ylabel="FSDD test accuracy (%)", ylim=(0, 100),
               title=f"{delay} silent frames ({delay * memory[0]['frame_s']:.2f} s) before the readout")
        ax.legend(fontsize=7)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    plt.close(fig)


def shrink_png(path: Path, colors: int = 128) -> None:
    """Re-save a PNG with an adaptive palette (the spectrogram pictures drop to about a third of their size)."""
    from PIL import Image
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=colors)
    small.save(path, optimize=True)


def alignment_clip(manifest: Path, min_s: float = 2.0, max_s: float = 6.0) -> str:
    """The first clip of a manifest between min_s and max_s long (the first clip if none is)."""
    rows = read_jsonl(manifest)
    return next((r["audio"] for r in rows if min_s <= r["duration_s"] <= max_s), rows[0]["audio"])


# --------------------------------------------------------------------------------------------------- tables

def number(x, digits: int = 1) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def pct(x) -> str:
    return "" if x is None else f"{100 * x:.1f} %"


def fmt_log(x) -> str:
    return "" if x is None else f"10^{x:.1f}"


def model_table(results: list[dict]) -> list[str]:
    lines = ["| data | direction | cell | units per direction | parameters | vs budget |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        run = r["run"]
        p = r["best"]["parameters"]
        lines.append(f"| {run.dataset.name} | {'bi' if run.bidirectional else 'uni'} | {LABELS[run.cell]} | "
                     f"{run.units} | {p:,} | {100 * (p / run.dataset.budget - 1):+.1f} % |")
    return lines


def training_table(results: list[dict]) -> list[str]:
    lines = [("| data | model | epochs | training steps (s) | wall incl. validation (s) | train loss first -> last "
             "epoch | best epoch (validation) | validation WER / CER | test set | test WER | test CER |"),
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        run, log, best, test = r["run"], r["log"], r["best"], r["test"]
        wall = f"{r['wall_s']:.0f}" if r["wall_s"] else ""
        lines.append(f"| {run.dataset.name} | {run.name} | {log[-1]['epoch']} | {log[-1]['train_seconds']:.0f} | "
                     f"{wall} | {log[0]['train_loss']:.1f} -> {log[-1]['train_loss']:.1f} | {best['epoch']} | "
                     f"{pct(best['valid_wer'])} / {pct(best['valid_cer'])} | {run.dataset.test_name} "
                     f"({test['utterances'] if test else ''}) | {pct(test and test['wer'])} | "
                     f"{pct(test and test['cer'])} |")
    return lines


def gradient_table(results: list[dict], ds) -> list[str]:
    reach = max(max(r["gradients"][n]["h"]["distance"]) for r in results if r["run"].dataset is ds
                for n in ("init", "trained"))
    distances = [d for d in DISTANCES if d <= reach]
    head = " | ".join(f"d = {d}" for d in distances)
    lines = [f"| model | weights | ‖dL/dh_T‖ | {head} | fitted factor per step | gate statistic (mean; share > 0.9) |",
             "| --- | --- | --- | " + " | ".join("---" for _ in distances) + " | --- | --- |"]
    for r in results:
        if r["run"].dataset is not ds:
            continue
        for name in ("init", "trained"):
            g = r["gradients"][name]
            curve = g["h"]
            cells = " | ".join(fmt_log(relative_at(curve, d)) for d in distances)
            gates = "; ".join(f"{x['name']} {x['mean']:.2f}; {100 * x['fraction_above_0.9']:.0f} %"
                              + (f"; ‖W_hh‖_2 {x['recurrent_spectral_norm']:.2f}" if r["run"].cell == "rnn" else "")
                              for x in g["gates"])
            lines.append(f"| {r['run'].name} h | {name} | {10 ** curve['log10_norm'][0]:.3g} | {cells} | "
                         f"{decay_per_step(curve):.3f} | {gates} |")
            if "c" in g:
                c = g["c"]
                cells = " | ".join(fmt_log(relative_at(c, d)) for d in distances)
                lines.append(f"| {r['run'].name} c | {name} | | {cells} | {decay_per_step(c):.3f} | |")
    return lines


def clipping_summary(records: list[dict]) -> dict:
    per_s = loss_per_second(records)
    finite = per_s[np.isfinite(per_s)]
    norms = [r["grad_norm"] for r in records if r["grad_norm"]]
    bad = [r["step"] for r in records if not r["finite"]]
    return {"steps": len(records), "non_finite": len(bad), "first_bad": bad[0] if bad else None,
            "first": float(per_s[0]) if len(per_s) else None,
            "last10": float(np.mean(finite[-10:])) if len(finite) and not bad else None,
            "max_norm": max(norms, default=None), "median_norm": float(np.median(norms)) if norms else None,
            "seconds": records[-1]["seconds"] if records else None}


def clipping_table(runs: dict[str, list[dict]]) -> list[str]:
    lines = [("| run (cell-optimizer learning rate-clip norm, 0: none) | steps run | diverged at step | loss per audio "
             "second, step 1 | mean of the last 10 steps | median / max gradient norm before clipping | seconds |"),
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, records in runs.items():
        s = clipping_summary(records)
        lines.append(f"| {name} | {s['steps']} | {s['first_bad'] or 'no'} | {number(s['first'])} | "
                     f"{number(s['last10'])} | {number(s['median_norm'], 0)} / {number(s['max_norm'], 0)} | "
                     f"{number(s['seconds'], 0)} |")
    return lines


def memory_table(memory: list[dict]) -> list[str]:
    epochs = len(memory[0]["history"]) if memory else 0
    shown = sorted({1, max(1, epochs // 2), epochs})
    lines = ["| cell | units | parameters | silent frames (s) | test accuracy after epoch " +
             " / ".join(map(str, shown)) + " | gradient at the word's last frame, init -> trained | seconds |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for m in sorted(memory, key=lambda m: (m["delay_frames"], list(COLORS).index(m["cell"]))):
        acc = " / ".join(f"{100 * m['history'][e - 1]['test_accuracy']:.1f} %" for e in shown)
        g = m["gradient_at_word"]
        lines.append(f"| {LABELS[m['cell']]} | {m['units']} | {m['parameters']:,} | {m['delay_frames']} "
                     f"({m['delay_frames'] * m['frame_s']:.2f}) | {acc} | 10^{g['init']['log10_relative_mean']:.1f} "
                     f"-> 10^{g['trained']['log10_relative_mean']:.1f} | {m['history'][-1]['seconds']:.0f} |")
    return lines


def machine() -> str:
    import tensorflow as tf
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name")), "")
    gpus = tf.config.list_physical_devices("GPU")
    return (f"{os.cpu_count()} CPU cores ({cpu or platform.processor()}), {len(gpus) or 'no'} GPU; Python "
            f"{platform.python_version()}, TensorFlow {tf.__version__}")


# ---------------------------------------------------------------------------------------------------- write

def write(runs: list, out: Path, results_dir: Path, quick: bool, command: str, log=print) -> Path:
    """Draw the PNGs into out/ and write out/RESULTS.md; copy them to results_dir."""
    from asr import load_model
    results = [load(run) for run in runs]
    datasets = list({id(run.dataset): run.dataset for run in runs}.values())
    plot_gradients(results, datasets, out / "gradient_norms.png")
    plot_training(results, datasets, out / "training.png")
    clipping = {p.stem: read_jsonl(p) for p in sorted((out / "clipping").glob("*.jsonl"))}
    plot_clipping(clipping, out / "clipping.png")
    memory = [json.loads(p.read_text()) for p in sorted((out / "memory").glob("*.json"))]
    plot_memory(memory, out / "memory.png")
    last = datasets[-1]
    clip = alignment_clip(last.test)
    for cell in ("lstm", "rnn"):
        run = next(r for r in runs if r.dataset is last and r.cell == cell and r.bidirectional)
        png = out / f"alignment{'' if cell == 'lstm' else '_rnn'}.png"
        plot_alignment(load_model(str(run.dir / "best")), clip, png)
        shrink_png(png)
    timings = json.loads((out / "timings.json").read_text()) if (out / "timings.json").exists() else {}
    text = results_text(results, datasets, clipping, memory, timings, command, quick, clip)
    (out / "RESULTS.md").write_text(text)
    if results_dir.resolve() != out.resolve():
        results_dir.mkdir(parents=True, exist_ok=True)
        for name in (*PNGS, "RESULTS.md"):
            shutil.copy(out / name, results_dir / name)
    log(f"wrote {results_dir / 'RESULTS.md'} and {len(PNGS)} PNGs")
    return results_dir / "RESULTS.md"


def find(results: list[dict], ds, cell: str, bidirectional: bool) -> dict:
    return next(r for r in results if r["run"].dataset is ds and r["run"].cell == cell
                and r["run"].bidirectional == bidirectional)


def power(x) -> str:
    return "n/a" if x is None else f"10^{x:.1f}"


def first_below(curve: dict, level: float):
    """The first distance whose mean log10 relative norm is below `level`, or None."""
    return next((d for d, y in zip(curve["distance"], curve["log10_relative"]) if y < level), None)


def gate_means(r: dict, weights: str) -> tuple[float, float]:
    """Mean gate statistic and share above 0.9, averaged over the directions."""
    gates = r["gradients"][weights]["gates"]
    return float(np.mean([g["mean"] for g in gates])), float(np.mean([g["fraction_above_0.9"] for g in gates]))


def changed(before: float, after: float, more: str, less: str) -> str:
    return more if after > before else less


def findings(results, datasets, clipping, memory) -> list[str]:
    """The measured story, in numbers: what vanishes, where, why, and what it costs. Every comparative word is
    chosen by the numbers it describes."""
    ds = datasets[-1]
    uni = {cell: find(results, ds, cell, False) for cell in ("rnn", "gru", "lstm")}
    frame_s = uni["rnn"]["gradients"]["probe"]["frame_s"]
    reach = min(max(r["gradients"][w]["h"]["distance"]) for r in uni.values() for w in ("init", "trained"))
    shown = [d for d in DISTANCES if d <= reach]
    mid, far = (shown[len(shown) // 2], shown[-1]) if shown else (None, None)
    rel = {(c, w, d): relative_at(uni[c]["gradients"][w]["h"], d) for c in uni for w in ("init", "trained")
           for d in shown}
    c_rel = {d: relative_at(uni["lstm"]["gradients"]["trained"]["c"], d) for d in shown}
    fac = {(c, w): decay_per_step(uni[c]["gradients"][w]["h"]) for c in uni for w in ("init", "trained")}
    below = {c: first_below(uni[c]["gradients"]["trained"]["h"], -3) for c in uni}
    tanh_i, tanh_share_i = gate_means(uni["rnn"], "init")
    tanh_t, tanh_share_t = gate_means(uni["rnn"], "trained")
    z_i, z_share_i = gate_means(uni["gru"], "init")
    z_t, z_share_t = gate_means(uni["gru"], "trained")
    f_i, f_share_i = gate_means(uni["lstm"], "init")
    f_t, f_share_t = gate_means(uni["lstm"], "trained")
    w_hh_init = uni["rnn"]["gradients"]["init"]["gates"][0]["recurrent_spectral_norm"]
    w_hh = uni["rnn"]["gradients"]["trained"]["gates"][0]["recurrent_spectral_norm"]
    ranked = sorted(uni, key=lambda c: fac[(c, "trained")])

    def seconds(d) -> str:
        return f"{d * frame_s:.2f} s" if d is not None else "n/a"

    def faster(c) -> str:
        return changed(fac[(c, "init")], fac[(c, "trained")], "slower", "faster")

    lines = ["## Findings", "",
             (f"All numbers are from this run (tables below); the unidirectional models on {ds.title} unless named. "
             "FSDD clips are too short for long distances."), "",
             ("**What vanishes, and where.** The gradient of one frame's loss reaching an earlier hidden state shrinks "
             f"with the distance. After training, {mid} output frames ({seconds(mid)}) before the frame whose loss is "
             f"read, ‖dL_T/dh_t‖ is {power(rel.get(('rnn', 'trained', mid)))} of its value at the readout for the "
             f"simple RNN, {power(rel.get(('gru', 'trained', mid)))} for the GRU and "
             f"{power(rel.get(('lstm', 'trained', mid)))} for the LSTM ({power(c_rel.get(mid))} through its cell state "
             f"c); {far} frames ({seconds(far)}) back: {power(rel.get(('rnn', 'trained', far)))}, "
             f"{power(rel.get(('gru', 'trained', far)))} and {power(rel.get(('lstm', 'trained', far)))}. Fitted factor "
             f"per step: {fac[('rnn', 'trained')]:.2f} (simple RNN), {fac[('gru', 'trained')]:.2f} (GRU), "
             f"{fac[('lstm', 'trained')]:.2f} (LSTM), fastest decay first: "
             f"{', '.join(LABELS[c] for c in ranked)}. The gradient falls below 10^-3 of its readout value "
             f"{below['rnn']} frames back for the simple RNN, {below['gru']} for the GRU and {below['lstm']} for the "
             "LSTM (`gradient_norms.png`; the unroll is in float64, so nothing underflows)."), "",
             "**Why.** One step back multiplies the gradient by that step's Jacobian. For the simple RNN it is "
             f"diag(tanh'(a_t)) W_hh^T: ‖W_hh‖_2 is {w_hh_init:.2f} at initialisation (orthogonal) and {w_hh:.2f} "
             f"after training, and tanh' = 1 - h_t^2 averages {tanh_i:.2f} at initialisation and {tanh_t:.2f} after "
             f"training (unit-frames above 0.9: {100 * tanh_share_i:.0f} % -> {100 * tanh_share_t:.0f} %): every step "
             "multiplies by factors below 1, and "
             + changed(tanh_i, tanh_t, "training moved the units out of tanh's flat tails",
                       "training drove the units further into tanh's flat tails") +
             f" (per-step factor {fac[('rnn', 'init')]:.2f} -> {fac[('rnn', 'trained')]:.2f}). The GRU's "
             "h_t = z h_(t-1) + (1 - z) candidate has a direct path whose factor is the update gate z itself: z averages "
             f"{z_i:.2f} -> {z_t:.2f}, and the share of unit-frames with z > 0.9 (units carrying their state forward "
             f"almost unchanged) went from {100 * z_share_i:.0f} % to {100 * z_share_t:.0f} % (factor "
             f"{fac[('gru', 'init')]:.2f} -> {fac[('gru', 'trained')]:.2f}). The LSTM's c_t = f c_(t-1) + i g passes "
             f"the gradient through c scaled by the forget gate alone: f averages {f_i:.2f} -> {f_t:.2f} (its bias "
             f"starts at 1), f > 0.9 in {100 * f_share_i:.0f} % -> {100 * f_share_t:.0f} % of unit-frames (factor "
             f"{fac[('lstm', 'init')]:.2f} -> {fac[('lstm', 'trained')]:.2f}). So training made the simple RNN's "
             f"gradient vanish {faster('rnn')}, the GRU's {faster('gru')} and the LSTM's {faster('lstm')}. In these "
             "Jacobians a gate is the one factor that can sit at 1 without saturating anything (z -> 1 or f -> 1 copies "
             "the state), while the simple RNN's only path multiplies by tanh' <= 1 and W_hh at every step. (The "
             f"LSTM's h itself keeps only {power(rel.get(('lstm', 'trained', 1)))} after one step: h_(t-1) reaches "
             "h_t only through the gates and the candidate; its memory runs through c.)"
             + other_dataset_note(results, datasets, fac[("rnn", "init")], fac[("rnn", "trained")]), ""]
    lines += training_findings(results, datasets)
    lines += memory_findings(memory)
    lines += clipping_findings(clipping)
    return lines


def other_dataset_note(results, datasets, before: float, after: float) -> str:
    """A sentence on the simple RNN of the first dataset, when training moved its decay the other way."""
    if len(datasets) < 2:
        return ""
    r = find(results, datasets[0], "rnn", False)
    first_before, first_after = (decay_per_step(r["gradients"][w]["h"]) for w in ("init", "trained"))
    if (first_after > first_before) == (after > before):
        return ""
    tanh = [gate_means(r, w)[0] for w in ("init", "trained")]
    norm = r["gradients"]["trained"]["gates"][0]["recurrent_spectral_norm"]
    return (f" On {datasets[0].title} the simple RNN's factor moved the other way ({first_before:.2f} -> "
            f"{first_after:.2f}) although its tanh' also fell ({tanh[0]:.2f} -> {tanh[1]:.2f}): there ‖W_hh‖_2 grew to "
            f"{norm:.2f}, and over its short clips (at most {max(r['gradients']['trained']['h']['distance'])} frames "
            "measured) the larger W_hh outweighed the saturation.")


def training_findings(results, datasets) -> list[str]:
    parts = []
    for ds in datasets:
        for bidirectional in (False, True):
            group = {c: find(results, ds, c, bidirectional) for c in ("rnn", "gru", "lstm")}
            scores = ", ".join(f"{LABELS[c]} {pct(r['test'] and r['test']['wer'])} / "
                               f"{pct(r['test'] and r['test']['cer'])}" for c, r in group.items())
            parts.append(f"{ds.test_name}, {'bi' if bidirectional else 'uni'}: {scores}")
    ds = datasets[-1]
    rnn, gru, lstm = (find(results, ds, c, False) for c in ("rnn", "gru", "lstm"))
    loss = {c: r["log"][-1]["train_loss"] for c, r in (("rnn", rnn), ("gru", gru), ("lstm", lstm))}
    stalls = loss["rnn"] > 1.1 * min(loss["gru"], loss["lstm"])
    ratio = rnn["run"].units / max(gru["run"].units, lstm["run"].units)
    text = ("**Does the simple RNN stall on the recognition tasks?** " +
            ("Yes: its final training loss" if stalls else "No: its final training loss") +
            f" on {ds.name} is {loss['rnn']:.1f} against {loss['gru']:.1f} (GRU) and {loss['lstm']:.1f} (LSTM) "
            "(`training.png`). Test WER / CER (greedy): " + "; ".join(parts) + ".")
    if not stalls:
        text += (" A CTC output frame mostly needs the acoustics of the frames around it, where the simple RNN's "
                 "gradient has not vanished yet (d = 1 and 5 in the tables), and at the same parameter budget the "
                 f"simple RNN has {ratio:.1f} times the units of the larger gated model here. Character CTC on these "
                 "clips asks for little memory, so the vanishing gradient costs the simple RNN little; the next "
                 "experiment makes memory necessary.")
    return [text, ""]


def memory_findings(memory: list[dict]) -> list[str]:
    if not memory:
        return []
    by = {(m["cell"], m["delay_frames"]): m for m in memory}
    delays = sorted({m["delay_frames"] for m in memory})
    frame_s, epochs, longest = memory[0]["frame_s"], len(memory[0]["history"]), delays[-1]

    def accuracy(c, d) -> float:
        return by[(c, d)]["history"][-1]["test_accuracy"]

    def grad(c, d, w) -> float:
        return by[(c, d)]["gradient_at_word"][w]["log10_relative_mean"]

    cells = ("rnn", "gru", "lstm")
    rows = []
    for d in delays:
        best = max(cells, key=lambda c: accuracy(c, d))
        rows.append(f"{d} frames ({d * frame_s:.2f} s): " + ", ".join(
            f"{LABELS[c]} {100 * accuracy(c, d):.1f} % (gradient at the word {power(grad(c, d, 'init'))} -> "
            f"{power(grad(c, d, 'trained'))})" for c in cells) + f", best: {LABELS[best]}")
    text = ("**Where it bites: a digit read only after N silent frames** (`memory.png`). Each FSDD clip is followed "
            "by N output frames of zero input (the feature mean, which normalises to 0) and only the last frame is "
            "read, by a 10-way digit classifier (same model code and parameter budget, unidirectional, "
            f"{epochs} epochs; FSDD test accuracy, chance 10 %). Accuracy, and the gradient reaching the word's last "
            "frame across the silence (initialisation -> trained): " + "; ".join(rows) + ".")
    def silence(c) -> str:
        g = [by[(c, longest)]["gradient_at_word"][w]["silence_gates"] for w in ("init", "trained")]
        return f"{g[0]['name']} averages {g[0]['mean']:.2f} -> {g[1]['mean']:.2f}" if g[0] else "n/a"

    rnn_keeps = grad("rnn", longest, "init") > max(grad("gru", longest, "init"), grad("lstm", longest, "init"))
    if longest and rnn_keeps:
        text += (" Across silence the order of the speech probe reverses at initialisation. Over the silent frames "
                 f"(delay {longest}, initialisation -> trained) the simple RNN's {silence('rnn')}: with zero input "
                 "its units stay near 0, where tanh' is near 1, and its W_hh starts orthogonal, so little is lost per "
                 f"step; the GRU's {silence('gru')} and the LSTM's {silence('lstm')}: they forget a share of their "
                 "state (and of the gradient) at every silent step unless training opens the gates.")
    lags = [d for d in delays if grad("rnn", d, "trained") > grad("lstm", d, "trained")
            and accuracy("rnn", d) < accuracy("lstm", d)]
    if lags:
        text += (f" After {', '.join(map(str, lags))} silent frames the simple RNN learned less than the LSTM although "
                 "more of its gradient reached the word's last frame: what limits it there is not this stretch of the "
                 "path. The measurement does not say what does; from the speech probe, the next stretch back, through "
                 "the word's own frames, is where the simple RNN's gradient shrinks fastest.")
    failed = [d for d in delays if max(accuracy(c, d) for c in cells) < 0.5]
    if failed:
        text += (f" After {', '.join(map(str, failed))} silent frames no cell reached 50 % within {epochs} epochs. "
                 "A vanished gradient cannot teach the gates to hold; holding the digit through the silence is also a "
                 "property of the forward pass, which this gradient measurement does not show by itself.")
    return [text, ""]


def clipping_findings(clipping: dict) -> list[str]:
    if not clipping:
        return []
    summary = {name: clipping_summary(records) for name, records in clipping.items()}
    describe = "; ".join(f"{name}: " + (f"diverged at step {s['first_bad']}" if s["first_bad"] else
                                        f"no divergence in {s['steps']} steps (last 10 steps: {s['last10']:.1f} per "
                                        "audio second)") for name, s in summary.items())
    diverged = [name for name, s in summary.items() if s["first_bad"]]
    all_zeroed = all(r["infinite_loss_utterances"] > 0 and r.get("logits_finite", True)
                     for name in diverged for r in clipping[name] if not r["finite"])
    text = ("**Gradient clipping** (`clipping.png`; unidirectional models on the same data; loss per second of audio, "
            "since a batch's CTC loss grows with its clips' length): " + describe + ". With the package's optimizer "
            "(Adam) each weight moves by about the learning rate at most, whatever the gradient's size, so clipping "
            "the global norm mostly rescales a gradient whose scale Adam divides out again"
            + (" (every run's median gradient norm was above 5, so a clip at 5 acts at most steps)"
               if all(s["median_norm"] and s["median_norm"] > 5 for s in summary.values()) else "") +
            ". Plain SGD moves the weights by learning rate x gradient, so the gradient's norm sets the step, and that "
            "is what clipping bounds.")
    if diverged and all_zeroed:
        text += (" The diverged steps had finite logits but an infinite CTC loss for their clips (`infinite_loss_"
                 "utterances` in the run's JSONL), which `asr.training.train.ctc_loss` turns into 0: a diverged run logs a loss "
                 "of 0, not infinity.")
    return [text, ""]


def shown(path: Path) -> str:
    """A path relative to the working directory when it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def validation_size(results, ds) -> str:
    n = next(r["config"]["train"]["validate_utterances"] for r in results if r["run"].dataset is ds)
    return "all clips" if n <= 0 else f"its first {n} clips: asr.training.train validates eagerly, which is slow"


def results_text(results, datasets, clipping, memory, timings, command, quick, clip) -> str:
    lines = ["# The simple RNN, the GRU and the LSTM side by side: the vanishing gradient, measured", ""]
    if quick:
        lines += [("**Quick mode**: tiny models, a few steps on samples/. These numbers test the code path; they are "
                  "not results."), ""]
    runs_s = [r["wall_s"] for r in results if r["wall_s"]]
    if runs_s:  # the runs' own clocks: training may have been spread over several invocations
        timings = {**timings, "train": sum(runs_s)}
    total_s = sum(timings.values())
    lines += ["Command: `python recipes/rnn_cells/run.py --out exp/rnn_cells" + (" --quick" if quick else "") + "` "
              f"(stages resume: a finished training is skipped; this file was written by `python {command}`). "
              f"Wall time of all stages: {total_s / 60:.1f} min (table at the end).", "",
              f"Machine: {machine()}; other jobs shared the CPU (times are wall-clock, +-30 %).", "",
              "Data: " + "; ".join(f"{ds.title}: train `{shown(ds.train)}`, validation (per-epoch selection, "
                                   f"{validation_size(results, ds)}) `{shown(ds.valid)}`, test `{shown(ds.test)}` "
                                   f"({ds.test_name}, evaluation only)" for ds in datasets) + ".", "",
              ("Models: the package's acoustic model (`asr.training.keras_model.build_model`) with one recurrent layer read by the dense "
              "output (y_t = W_hy h_t), the same parameter budget per dataset for every cell and direction, trained by "
              "`asr.training.train.Trainer` with CTC, Adam and clipping at norm 5 (configs: `fsdd.toml`, `librispeech.toml`; each "
              "run's resolved `config.json` sits in its folder)."), ""]
    lines += findings(results, datasets, clipping, memory)
    lines += ["## Models", "", *model_table(results), ""]
    lines += ["## Training and test (greedy decoding, no lexicon)", "", *training_table(results), "",
              "`training.png`: training and validation loss, validation WER and CER per epoch.", ""]
    lines += ["## Gradient norms", "",
              ("Probe: for each test clip (FSDD: 40 clips; dev-clean-2: 16 clips of 10-20 s), the loss frames T are "
              "frames where the trained model's CTC forced alignment emits a character, spread over the clip's second "
              "half; L_T = -log P(that character | frame T). The trained layer's Keras cell is unrolled step by step in "
              "float64 with the model's weights, a zero tensor added to every h_t (and c_t), and dL_T/dh_t is the "
              "gradient with respect to that tensor: the total derivative through every later step. The unrolled "
              "states match the layer's own outputs (largest difference in `gradients.json`), and dL_T/dh_t is exactly "
              "0 for t > T. Each direction of a bidirectional layer is probed in the order it runs. Table entries are "
              "geometric means over (clip, T) of ‖dL_T/dh_(T-d)‖ / ‖dL_T/dh_T‖; c rows are relative to the same "
              "‖dL_T/dh_T‖. The same clips and frames are used at initialisation (the run's own initial weights, "
              "`init.npz`) and after training (the validation-selected model)."), ""]
    for ds in datasets:
        lines += [f"### {ds.title}", "", *gradient_table(results, ds), ""]
    lines += ["## A digit read after N silent frames", "", *memory_table(memory), ""]
    lines += ["## Gradient clipping", "", *clipping_table(clipping), ""]
    lines += [("## Stage wall times (s; train: the sum of the runs' own times, the others: each stage's last "
               "invocation that did its work)"), "", "| " + " | ".join(timings) + " |",
              "| " + " | ".join("---" for _ in timings) + " |",
              "| " + " | ".join(f"{v:.0f}" for v in timings.values()) + " |", "",
              (f"`alignment.png` and `alignment_rnn.png`: spectrogram, per-frame posteriors and greedy words of "
              f"`{shown(clip)}` under the bidirectional LSTM and simple RNN trained on {datasets[-1].title}."), ""]
    return "\n".join(lines)
