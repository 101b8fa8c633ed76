"""The `asr` command: a thin layer over the Python API. The only module that parses arguments."""
from __future__ import annotations

import argparse
import os
import sys


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def cmd_train(args) -> int:
    from asr import config, train
    overrides = {}
    for text in args.set or []:
        overrides = config.merge(overrides, config.parse_override(text))
    cfg = config.load(args.config, overrides)
    train.run(cfg, args.train, args.valid, args.out, cache_dir=args.cache_dir, max_minutes=args.max_minutes)
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
    return parser


def main(argv=None) -> int:
    _quiet_tensorflow()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
