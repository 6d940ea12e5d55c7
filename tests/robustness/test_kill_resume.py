"""Crashes proven survivable: a real training process killed with SIGKILL again and again
(at random moments and in the middle of checkpoint writes) resumes to the same weights,
bit for bit, as a run that was never interrupted; a truncated checkpoint is refused with
a ValueError naming the file.

The training script is written into tmp_path and wraps ``safetensors.torch.save_file`` as
rnnkit's writer sees it (``rnnkit.io`` or ``rnnkit.saving``): it prints WRITING, writes the
temporary file, sleeps, prints WROTE -- so a kill on WRITING lands inside a write, after
the temporary file and before the rename.
"""

import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import rnnkit as rk
from rnnkit.saving import read_tensors

EPOCHS = 24
KILLS_NEEDED = 10
WRITE_KILLS_NEEDED = 4
WRITE_SLEEP = 0.3          # seconds the child sleeps after writing the temp file

SCRIPT = textwrap.dedent(r"""
    # python train.py run CK OUT   -- one training run in this process (the reference, the
    #                                 final run to the end)
    # python train.py serve        -- import once, then fork one training process per stdin
    #                                 line "CK OUT SLEEP"; print "PID n" and "EXIT code"
    import importlib, os, sys, time, traceback
    import torch
    torch.set_num_threads(1)
    import rnnkit as rk
    from rnnkit.engines._ext import kernels

    EPOCHS = int(os.environ["CHAOS_EPOCHS"])
    SLEEP = 0.0

    def say(line):
        # one write() per line: print() writes the text and the newline in two, and a
        # SIGKILL between them left "EPOCH 3" unended, so the server's "EXIT -9" joined it
        # ("EPOCH 3EXIT -9") and the test waited for an EXIT line that never came
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def wrap(save_file):
        def slow_save_file(*args, **kwargs):
            say("WRITING")
            save_file(*args, **kwargs)
            time.sleep(SLEEP)          # the temp file is written, not yet renamed
            say("WROTE")
        slow_save_file.wrapped = True
        return slow_save_file

    for name in ("rnnkit.saving", "rnnkit.io"):      # whichever module calls save_file
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        original = getattr(module, "save_file", None)
        if original is not None and not getattr(original, "wrapped", False):
            module.save_file = wrap(original)

    class Progress(rk.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            say(f"EPOCH {epoch}")

    def train(ck, out):
        g = torch.Generator().manual_seed(1234)
        x = torch.randn(3072, 16, 3, generator=g)
        y = x.sum(dim=(1, 2)).unsqueeze(1).tanh()
        torch.manual_seed(0)
        model = rk.Sequential([rk.GRU(8), rk.Dense(256, activation="tanh"), rk.Dense(1)])
        say("START")
        model.fit(x, y, epochs=EPOCHS, batch_size=16, seed=0, checkpoint=ck, resume=ck,
                  verbose=0, callbacks=[Progress()])
        from safetensors.torch import save_file as plain_save_file
        plain_save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
        say("DONE")

    # torch's and rnnkit's lazy imports and the kernel library, before any fork
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    kernels()
    if sys.argv[1] == "run":
        train(sys.argv[2], sys.argv[3])
        sys.exit(0)
    say("READY")
    for line in sys.stdin:
        ck, out, sleep = line.split()
        pid = os.fork()
        if pid == 0:                   # a training process, one thread, killed from outside
            code = 1
            try:
                SLEEP = float(sleep)
                say(f"PID {os.getpid()}")
                train(ck, out)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        # a newline first: whatever a killed child left unended stays off this line
        say(f"\nEXIT {os.waitstatus_to_exitcode(status)}")
""")


class Proc:
    """A Python process in its own session, its stdout read line by line."""

    def __init__(self, *args: str):
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONUNBUFFERED="1", CHAOS_EPOCHS=str(EPOCHS))
        self.proc = subprocess.Popen([sys.executable, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, start_new_session=True)
        self.lines: queue.Queue = queue.Queue()
        self.err: list[str] = []
        self.pumps = [threading.Thread(target=self._pump, args=args, daemon=True) for args in
                      ((self.proc.stdout, self.lines.put), (self.proc.stderr, self.err.append))]
        for pump in self.pumps:
            pump.start()

    @staticmethod
    def _pump(stream, put):
        for line in stream:
            put(line.rstrip("\n"))
        put(None)

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def next_line(self, prefix: str, deadline: float, count: int = 1) -> str | None:
        """The ``count``-th next line starting with ``prefix`` ("" for count 0); None at EOF
        or at the deadline."""
        if count == 0:
            return ""
        seen = 0
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if line is None:
                return None
            if line.startswith(prefix):
                seen += 1
                if seen == count:
                    return line

    def finish(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.close()
            pytest.fail(f"{self.proc.args} still running after {timeout} s")

    def close(self) -> None:
        """SIGKILL the whole process group (forked trainers included); close the pipes."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        for pump in self.pumps:
            pump.join(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except BrokenPipeError:
                pass

    def stderr(self) -> str:
        return "\n".join(self.err[-40:])


def _check_folder(folder: Path, ck: Path, last_epoch: int) -> int:
    """The checkpoint, if present, is complete and readable; nothing else looks like one.
    Returns the epoch it holds (0 when absent)."""
    for f in folder.iterdir():
        if f == ck:
            continue
        assert f.is_file() and "tmp" in f.name, f"unexpected {f.name} beside the checkpoint"
        assert not f.name.endswith(".safetensors"), f"stray file {f.name} looks like a checkpoint"
    if not ck.exists():
        assert last_epoch == 0, "the checkpoint disappeared"
        return 0
    plain = load_file(ck)
    tensors, meta = read_tensors(ck)
    assert set(plain) == set(tensors) and all(torch.equal(plain[k], tensors[k]) for k in plain)
    assert any(k.startswith("model.") for k in tensors) and "rng.torch" in tensors
    epoch = json.loads(meta["rnnkit"])["epoch"]
    assert last_epoch <= epoch <= EPOCHS, f"checkpoint went from epoch {last_epoch} to {epoch}"
    rk.load(ck)                                # a complete model can be built from it
    return epoch


def _whereabouts(server: Proc, pid: int) -> str:
    """Where a kill's aftermath stands: the server alive or gone, the killed child's state
    (from /proc: R running, D in uninterruptible I/O, Z reaped not yet), so that a
    missing EXIT line says which side stopped."""
    code = server.proc.poll()
    side = "server still running" if code is None else f"server exited with {code}"
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        state = stat.rsplit(")", 1)[1].split()[0]
        wchan = Path(f"/proc/{pid}/wchan").read_text().strip() or "-"
        child = f"child {pid} in state {state} (waiting in {wchan})"
    except OSError:
        child = f"child {pid} gone"
    return f"{side}, {child}"


def test_sigkill_at_random_moments_and_mid_write_resumes_bit_for_bit(tmp_path):
    """At least 10 SIGKILLs of training processes (at least 4 inside a checkpoint write, the
    rest at random moments: starting up, in a batch, in a write), the checkpoint folder
    checked after each, then a fresh process runs to the end: its final weights equal an
    uninterrupted run's bit for bit.

    The killed processes are forked from a server process that imported torch and rnnkit
    once (about 4 s a process here), so that ten kills fit in seconds; the reference and
    the final run are fresh processes."""
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    ref_dir, run_dir = tmp_path / "reference", tmp_path / "chaos"
    ref_dir.mkdir()
    run_dir.mkdir()
    ck, out = run_dir / "ck.safetensors", tmp_path / "final.safetensors"
    # the uninterrupted run goes alongside (its own checkpoint file); collected at the end
    ref = Proc(str(script), "run", str(ref_dir / "ck.safetensors"),
               str(ref_dir / "final.safetensors"))
    try:
        server = Proc(str(script), "serve")
    except BaseException:
        ref.close()
        raise
    try:
        assert server.next_line("READY", time.monotonic() + 90) is not None, server.stderr()
        rng = random.Random(0)
        plan = ["WRITING"] * 5 + ["START"] * 2 + ["EPOCH"] * 5
        rng.shuffle(plan)
        kills = write_kills = runs = epoch = 0
        log = []
        while kills < KILLS_NEEDED or write_kills < WRITE_KILLS_NEEDED:
            runs += 1
            assert runs <= 25 and epoch < EPOCHS - 3, \
                f"training ran out before enough kills landed: {log}"
            marker = plan.pop() if plan else (
                "WRITING" if write_kills < WRITE_KILLS_NEEDED else "EPOCH")
            if marker == "WRITING":      # inside the 1st or 2nd write of this run
                nth, delay = rng.choice([1, 2]), rng.uniform(0.0, 0.5 * WRITE_SLEEP)
            elif marker == "START":      # starting: building, reading the checkpoint, epoch 1
                nth, delay = 0, rng.uniform(0.0, 0.5)
            else:                        # anywhere in the epoch after the nth: batches, write
                nth, delay = rng.choice([1, 2]), rng.uniform(0.0, 0.1 + WRITE_SLEEP)
            server.send(f"{ck} {out} {WRITE_SLEEP}")
            pid_line = server.next_line("PID", time.monotonic() + 30)
            assert pid_line is not None, server.stderr()
            pid = int(pid_line.split()[1])
            reached = server.next_line(marker, time.monotonic() + 30, nth) is not None
            assert reached, f"no {marker} line: {server.stderr()}"
            time.sleep(delay)
            try:
                os.kill(pid, signal.SIGKILL)  # a zombie (already done) ignores it
            except ProcessLookupError:
                pass
            exit_line = server.next_line("EXIT", time.monotonic() + 60)
            assert exit_line is not None, (
                f"no EXIT line within 60 s of the SIGKILL ({marker} {nth} +{delay:.2f}s): "
                f"{_whereabouts(server, pid)}; runs so far: {log}; {server.stderr()}")
            code = int(exit_line.split()[1])
            assert code in (0, -signal.SIGKILL), f"training failed ({code}): {server.stderr()}"
            killed = code == -signal.SIGKILL
            before, epoch = epoch, _check_folder(run_dir, ck, epoch)
            kills += killed
            # inside the nth write: the first nth - 1 epochs of this run were committed,
            # the nth was not (its temp file was written, never renamed)
            mid_write = killed and marker == "WRITING" and epoch == before + nth - 1
            write_kills += mid_write
            log.append(f"{marker} {nth} +{delay:.2f}s killed={killed} "
                       f"mid-write={mid_write} epoch={epoch}")
        leftovers = sum(f != ck for f in run_dir.iterdir())       # temp files
        assert leftovers <= kills, "more temp files than interrupted processes"
    except BaseException:
        ref.close()              # its pipes would otherwise outlive the test
        raise
    finally:
        server.close()
    final = Proc(str(script), "run", str(ck), str(out))
    try:
        assert final.finish(120) == 0, final.stderr()
        assert ref.finish(120) == 0, ref.stderr()
    finally:
        final.close()
        ref.close()
    assert _check_folder(run_dir, ck, epoch) == EPOCHS
    stale = [f.name for f in run_dir.iterdir() if f != ck]
    assert not stale, f"temporary files of killed writes outlived a landed write: {stale}"
    reference, resumed = load_file(ref_dir / "final.safetensors"), load_file(out)
    assert list(resumed) == list(reference)
    for name in reference:
        assert torch.equal(resumed[name], reference[name]), \
            f"{name} differs from the uninterrupted run after {kills} kills: {log}"
    print(f"{kills} kills ({write_kills} mid-write) in {runs} runs, {leftovers} temp "
          f"files left: {log}")


@pytest.mark.parametrize("keep", ["half", "header", "one_byte_short", "empty"])
def test_truncated_checkpoint_is_refused_naming_the_file(tmp_path, keep):
    torch.manual_seed(0)
    x, y = torch.randn(16, 5, 2), torch.randn(16, 1)
    ck = tmp_path / "ck.safetensors"
    rk.Sequential([rk.GRU(4), rk.Dense(1)]).fit(x, y, epochs=1, batch_size=8, seed=0,
                                                checkpoint=ck, verbose=0)
    broken = tmp_path / "broken.safetensors"
    shutil.copy(ck, broken)
    size = ck.stat().st_size
    header = 8 + int.from_bytes(ck.read_bytes()[:8], "little")
    cut = {"half": size // 2, "header": header, "one_byte_short": size - 1, "empty": 0}[keep]
    with open(broken, "r+b") as f:
        f.truncate(cut)
    assert broken.stat().st_size == cut < size
    model = rk.Sequential([rk.GRU(4), rk.Dense(1)])
    with pytest.raises(ValueError, match="broken.safetensors"):
        model.fit(x, y, epochs=2, batch_size=8, seed=0, resume=broken, verbose=0)
    with pytest.raises(ValueError, match="broken.safetensors"):
        rk.load(broken)
    with pytest.raises(ValueError, match="broken.safetensors"):
        read_tensors(broken)
