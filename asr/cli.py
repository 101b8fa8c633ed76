"""The `asr` command: a thin layer over the Python API. The only module that parses arguments."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from asr import formats
from asr.formats import FORMATS

NEEDS_TENSORFLOW = ("train", "transcribe", "evaluate", "plot")


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def _native_stderr_silenced():
    """TensorFlow's native start-up messages ignore TF_CPP_MIN_LOG_LEVEL: hide file descriptor 2 while it
    loads (Python exceptions still print, after it is restored). ASR_VERBOSE=1 shows everything."""
    if os.environ.get("ASR_VERBOSE"):
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class UsageError(Exception):
    """Bad arguments: reported in one line, exit code 2."""


def _error(message: str) -> None:
    print(f"asr: error: {message}", file=sys.stderr, flush=True)


def cmd_train(args) -> int:
    from asr import config, train
    overrides = {}
    try:
        for text in args.set or []:
            overrides = config.merge(overrides, config.parse_override(text))
        cfg = config.load(args.config, overrides)
    except (ValueError, TypeError, OSError) as e:
        raise UsageError(f"{args.config or '--set'}: {e}") from None
    for manifest in (args.train, args.valid):
        if not Path(manifest).is_file():
            raise UsageError(f"{manifest}: no such manifest")
    train.run(cfg, args.train, args.valid, args.out, cache_dir=args.cache_dir, max_minutes=args.max_minutes)
    return 0


def _load(args):
    """The model named by --model, with --beam; a missing or broken model is a UsageError."""
    with _native_stderr_silenced():
        from asr.checkpoint import CheckpointError
        from asr.transcribe import load_model
        try:
            return load_model(args.model, beam_width=args.beam, use_lexicon=not args.no_lexicon)
        except (FileNotFoundError, CheckpointError) as e:
            raise UsageError(str(e)) from None


def _output_name(path: Path, used: set, suffix: str) -> str:
    name, n = path.stem + suffix, 1
    while name in used:
        n += 1
        name = f"{path.stem}-{n}{suffix}"
    used.add(name)
    return name


def _inputs(paths) -> list[tuple[str, Path | None, str | None]]:
    """(shown path, file or None, error or None) for every input, in the order given, folders expanded."""
    from asr.audio import find_audio_files
    out = []
    for path in paths:
        files, errors = find_audio_files([path])
        out += [(str(f), f, None) for f in files] + [(path, None, e) for e in errors]
    return out


def _render(fmt: str, rec: dict, result) -> str:
    if fmt == "srt":
        return formats.to_srt(result.words)
    if fmt == "vtt":
        return formats.to_vtt(result.words)
    return {"text": result.text, "jsonl": formats.to_jsonl(rec), "json": json.dumps(rec, indent=2)}[fmt]


def cmd_transcribe(args) -> int:
    from asr.audio import AudioError
    inputs = _inputs(args.paths)
    model = _load(args)
    out_dir = Path(args.output_dir) if args.output_dir else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    records, used, failed = [], set(), 0
    for shown, path, error in inputs:
        result = None
        if error is None:
            try:
                result = model.transcribe(path)
            except AudioError as e:
                error = str(e)
            except Exception as e:  # noqa: BLE001 - one bad input must not end the batch
                error = f"{shown}: transcription failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
        if error is not None:
            failed += 1
            _error(error)
            records.append(formats.record(shown, error=error))
            if args.format == "jsonl" and not out_dir:
                print(formats.to_jsonl(records[-1]), flush=True)
            continue
        records.append(formats.record(shown, result))
        rendered = _render(args.format, records[-1], result)
        if out_dir:
            suffix = {"text": ".txt", "jsonl": ".json", "json": ".json", "srt": ".srt", "vtt": ".vtt"}[args.format]
            (out_dir / _output_name(path, used, suffix)).write_text(rendered + "\n", encoding="utf-8")
        elif args.format == "text":
            print(f"{shown}\t{result.text}" if len(inputs) > 1 else result.text, flush=True)
        elif args.format in ("srt", "vtt"):
            print(f"==> {shown} <==\n{rendered}" if len(inputs) > 1 else rendered, flush=True)
        elif args.format == "jsonl":
            print(rendered, flush=True)
    if args.format == "json" and not out_dir:
        print(json.dumps(records, indent=2))
    if out_dir:
        with open(out_dir / "summary.jsonl", "w", encoding="utf-8") as f:
            f.writelines(formats.to_jsonl(r) + "\n" for r in records)
    return 1 if failed else 0


def cmd_evaluate(args) -> int:
    from asr.evaluate import evaluate
    if not Path(args.manifest).is_file():
        raise UsageError(f"{args.manifest}: no such manifest")
    model = _load(args)
    try:
        summary = evaluate(model, args.manifest, args.out, limit=args.limit)
    except ValueError as e:  # a malformed manifest line, or nothing readable
        _error(str(e))
        return 1
    return 1 if summary["skipped"] else 0


def cmd_models(args) -> int:
    from asr import models
    print(f"{'name':<18} {'size':>7}  {'parameters':>10}  measured")
    for name in models.shipped():
        path = models.SHIPPED_DIR / name
        info = models.read_metrics(path)
        size_mb = (path / "model.npz").stat().st_size / 1e6
        scores = "; ".join(f"{e['data']} ({e['decoding']}): WER {e['wer']:.2%}"
                           for e in info.get("evaluations", [])) or "-"
        label = name + (" (default)" if name == models.DEFAULT_MODEL else "")
        print(f"{label:<18} {size_mb:>5.1f}MB  {info.get('parameters', 0):>10,}  {scores}")
    return 0


def cmd_plot(args) -> int:
    from asr import plots
    try:
        if args.what == "training":
            out = plots.plot_training(args.target, args.out or Path(args.target) / "training.png")
        else:
            out = plots.plot_alignment(_load(args), args.target, args.out or Path(args.target).stem + "-alignment.png")
    except (OSError, ValueError, RuntimeError) as e:
        _error(str(e))
        return 1
    print(out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asr", description="RNN-CTC speech recognition.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train or resume an acoustic model")
    p.add_argument("--config", help="TOML file of overrides of the defaults in asr/config.py")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="one more override (repeatable)")
    p.add_argument("--train", required=True, help="training manifest (JSONL)")
    p.add_argument("--valid", required=True, help="validation manifest (JSONL), greedy WER every epoch")
    p.add_argument("--out", required=True, help="experiment directory; an existing one is resumed")
    p.add_argument("--cache-dir", help="feature cache directory (default OUT/features)")
    p.add_argument("--max-minutes", type=float, help="stop (with a checkpoint) after this much wall time")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("transcribe", help="transcribe audio files or folders")
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio file or folder (walked recursively)")
    p.add_argument("--model", help="shipped model name (see `asr models`) or model directory; default: english")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--beam", type=int, default=1, metavar="N", help="beam width (1: greedy, the default)")
    p.add_argument("--no-lexicon", action="store_true", help="ignore the model's lexicon.txt (open vocabulary)")
    p.add_argument("--output-dir", help="write one file per input here, plus summary.jsonl")
    p.set_defaults(func=cmd_transcribe)

    p = sub.add_parser("evaluate", help="score a model on a manifest: recogs, aligned errors, WER/CER")
    p.add_argument("manifest", help="JSONL manifest with reference texts")
    p.add_argument("--model", help="shipped model name or model directory; default: english")
    p.add_argument("--beam", type=int, default=1, metavar="N", help="beam width (1: greedy)")
    p.add_argument("--no-lexicon", action="store_true", help="ignore the model's lexicon.txt (open vocabulary)")
    p.add_argument("--out", required=True, help="folder for recogs.txt, errs.txt, wer.json, summary.json")
    p.add_argument("--limit", type=int, help="only the first N utterances")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("plot", help="PNG of an experiment's training curves, or of a clip's CTC alignment")
    p.add_argument("what", choices=("training", "alignment"))
    p.add_argument("target", help="experiment directory (training) or audio file (alignment)")
    p.add_argument("--model", help="model for an alignment (default: english)")
    p.add_argument("--out", help="PNG to write (default: EXP/training.png or CLIP-alignment.png)")
    p.set_defaults(func=cmd_plot, beam=1, no_lexicon=False)

    p = sub.add_parser("models", help="list the shipped models with their measured WER")
    p.set_defaults(func=cmd_models)
    return parser


def main(argv=None) -> int:
    _quiet_tensorflow()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in NEEDS_TENSORFLOW:
        with _native_stderr_silenced():
            import tensorflow  # noqa: F401  (loaded here, once, with its start-up messages hidden)
    try:
        return args.func(args)
    except UsageError as e:
        _error(str(e))
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
