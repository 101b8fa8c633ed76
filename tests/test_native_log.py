"""Native libraries' log lines kept off the terminal (asr.native_log), everything else passed on."""
import os
import sys

from asr import native_log

ONEDNN = (b"E0000 00:00:1796675826.494516    7954 util.cc:131] oneDNN supports DT_BOOL only on platforms with "
          b"AVX-512. Falling back to the default Eigen-based implementation if present.\n")
STARTED = b"I0000 00:00:1796675653.702514    7353 port.cc:153] oneDNN custom operations are on.\n"
SET_UP = b"W1207 20:31:02.123456  4242 cuda_executor.cc:1040] could not open file to read NUMA node\n"


def test_native_lines_are_recognised_and_others_are_not():
    for line in (ONEDNN, STARTED, SET_UP, native_log.ABSL_NOTE + b" are written to STDERR\n"):
        assert native_log.NATIVE_LINE.match(line), line
    for line in (b"epoch 1: loss 12.3\n", b"E: 3 files\n", b"Error 0000 12:00 x.py:3] not absl\n",
                 b"WARNING: low disk space\n"):
        assert not native_log.NATIVE_LINE.match(line), line


def test_write_kept_drops_native_lines_and_holds_only_what_may_become_one(tmp_path):
    out = tmp_path / "out"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT)
    try:
        rest = native_log._write_kept(b"epoch 1\n" + ONEDNN + b"\r 10%|#  |\r 20%|## |" , fd)
        assert rest == b""  # an unfinished progress bar is shown at once
        rest = native_log._write_kept(b"done\n" + STARTED[:20], fd)
        assert rest == STARTED[:20]  # held: it may be a native line
        rest = native_log._write_kept(rest + STARTED[20:] + b"E", fd)
        assert rest == b"E"
        rest = native_log._write_kept(rest + b"rror: bad\n", fd)
        assert rest == b""
    finally:
        os.close(fd)
    assert out.read_bytes() == b"epoch 1\n\r 10%|#  |\r 20%|## |done\nError: bad\n"


def test_filtered_passes_all_but_native_lines_through_file_descriptor_2(capfd, monkeypatch):
    monkeypatch.delenv("ASR_VERBOSE", raising=False)
    with native_log.filtered():
        os.write(2, ONEDNN)
        print("progress 50%", file=sys.stderr, flush=True)
        os.write(2, SET_UP + b"an error the user must see\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "progress 50%\nan error the user must see\nafter\n"


def test_verbose_shows_native_lines(capfd, monkeypatch):
    monkeypatch.setenv("ASR_VERBOSE", "1")
    with native_log.filtered():
        os.write(2, ONEDNN)
    with native_log.silenced():
        os.write(2, STARTED)
    assert capfd.readouterr().err == (ONEDNN + STARTED).decode()


def test_silenced_hides_file_descriptor_2_and_restores_it(capfd, monkeypatch):
    monkeypatch.delenv("ASR_VERBOSE", raising=False)
    with native_log.silenced():
        os.write(2, b"native noise\n")
    os.write(2, b"shown\n")
    assert capfd.readouterr().err == "shown\n"
