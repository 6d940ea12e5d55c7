"""Training on two processes (torchrun, gloo on the CPU) equals one process with the
global batch: N processes x batch b take the same steps as 1 process x batch N*b.

Every process tree is started in its own session and killed at the end; every wait has
a hard timeout, so no rank is ever left hanging.
"""

import datetime
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file

SCRIPT = textwrap.dedent('''
    import json, sys, torch, rnnkit as rk
    from safetensors.torch import save_file
    out, batch, case, dtype = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    torch.set_default_dtype(getattr(torch, dtype))
    g = torch.Generator().manual_seed(7)
    kw = dict(epochs=3, batch_size=batch, seed=1, verbose=0)
    if case == "sequential":          # 42 samples: the last global batch is uneven
        x, y = torch.randn(42, 6, 3, generator=g), torch.randn(42, 1, generator=g)
        rk.set_seed(0)
        model = rk.Sequential([rk.GRU(5), rk.Dense(1)])
        kw.update(metrics=["mae"], step=sys.argv[5], clip_norm=0.5,
                  validation_data=(x[:8], y[:8]))
    elif case == "tbptt":             # a target at every step, chunks of 4
        x, y = torch.randn(16, 10, 2, generator=g), torch.randn(16, 10, 1, generator=g)
        rk.set_seed(0)
        model = rk.Sequential([rk.LSTM(4, return_sequences=True), rk.Dense(1)])
        kw.update(tbptt=4, shuffle=False)
    elif case == "classifier":
        x, y = torch.randn(24, 5, 3, generator=g), torch.randint(0, 3, (24,), generator=g)
        rk.set_seed(0)
        model = rk.Sequential([rk.SimpleRNN(6), rk.Dense(3, activation="softmax")])
        kw.update(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    elif case == "resume":
        x, y = torch.randn(16, 5, 3, generator=g), torch.randn(16, 1, generator=g)
        rk.set_seed(0)
        model = rk.Sequential([rk.GRU(4), rk.Dense(1)])
        kw.update(resume=sys.argv[5])
    history = model.fit(x, y, **kw)
    if rk.training.distributed.is_rank_zero():
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
        with open(out + ".json", "w") as f:
            json.dump(history.history, f)
        with open(out + ".step", "w") as f:
            f.write(str(model._trainer.step_choice))
''')

# The four tasks, unchanged: batch_size is per process (the generator's streams are split
# across the ranks in contiguous blocks, each stream carrying its state on one rank).
TASKS = textwrap.dedent('''
    import json, sys, numpy as np, torch, rnnkit as rk
    from rnnkit.tasks import Forecaster, SequenceClassifier, TextGenerator, Translator
    from safetensors.torch import save_file
    out, batch, case, dtype = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    torch.set_default_dtype(getattr(torch, dtype))
    rng = np.random.default_rng(3)
    if case == "forecaster":
        series = np.sin(np.arange(120) / 5) + 0.1 * rng.standard_normal(120)
        task = Forecaster(cell="gru", units=6, window=8)
        hist = task.fit(series, epochs=3, batch_size=batch, seed=1, verbose=0, patience=None)
        hist = hist.history
    elif case == "classifier":
        x = rng.standard_normal((40, 6, 3))
        y = (x[:, :, 0].mean(1) > 0).astype(int)
        task = SequenceClassifier(cell="lstm", units=5)
        hist = task.fit(x, y, epochs=3, batch_size=batch, seed=1, verbose=0, patience=None)
    elif case == "generator":     # TBPTT: 8 streams, chunks of 10
        text = "to be or not to be, that is the question. " * 12
        task = TextGenerator(cell="gru", units=8, embedding=4, seq_len=10,
                                batch_size=batch)
        hist = task.fit(text, epochs=3, seed=1, verbose=0, patience=None)
    elif case == "translator":
        words = ["one", "two", "three", "four", "five", "six"]
        fr = ["un", "deux", "trois", "quatre", "cinq", "six"]
        pairs = [(f"{words[i]} {words[j]}", f"{fr[i]} {fr[j]}") for i in range(6)
                 for j in range(6)]
        task = Translator(units=8, embedding=4)
        hist = task.fit(pairs, epochs=3, batch_size=batch, seed=1, verbose=0, patience=None)
    if rk.training.distributed.is_rank_zero():
        model = task.model
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
        with open(out + ".json", "w") as f:
            json.dump({k: v for k, v in hist.items() if isinstance(v, list)}, f)
''')


def _kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and every descendant (torchrun's workers are not in its process
    group, so killpg alone can leave them running)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    todo, tree = [pid], []
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    for p in tree:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def _finish(proc, timeout: float) -> str:
    """The process's output; on a timeout (or any error) its whole tree is killed and its
    pipes drained and closed (an open pipe would warn in whichever test runs next)."""
    try:
        return proc.communicate(timeout=timeout)[0]
    finally:
        if proc.poll() is None:
            _kill_tree(proc.pid)
            proc.communicate()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(tmp_path, nproc: int, name: str, *args: str, timeout: float = 120,
         source: str = SCRIPT):
    script = tmp_path / "train.py"
    script.write_text(source)
    out = tmp_path / f"{name}.safetensors"
    cmd = [sys.executable, str(script), str(out), *args]
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}",
               "--master-addr=127.0.0.1", f"--master-port={_port()}", *cmd[1:]]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True, text=True)
    output = _finish(proc, timeout)
    return proc.returncode, output, out


def _weights(path):
    return load_file(path)


@pytest.mark.distributed
@pytest.mark.parametrize("case, steps, dtype, tol", [
    ("sequential", ["autograd", "autograd"], "float64", 1e-12),
    ("sequential", ["cpp", "cpp"], "float64", 1e-12),   # the split C++ step
    ("sequential", ["cpp", "autograd"], "float64", 1e-12),   # C++ alone = autograd+DDP
    ("sequential", ["autograd", "autograd"], "float32", 1e-5),
    ("sequential", ["cpp", "cpp"], "float32", 1e-5),
    ("tbptt", [], "float64", 1e-12),
    ("classifier", [], "float64", 1e-12),
])
def test_two_processes_equal_one_with_the_global_batch(tmp_path, case, steps, dtype, tol):
    rc1, out1, one = _run(tmp_path, 1, "one", "8", case, dtype, *steps[:1])
    assert rc1 == 0, out1
    rc2, out2, two = _run(tmp_path, 2, "two", "4", case, dtype, *steps[1:])
    assert rc2 == 0, out2
    a, b = _weights(one), _weights(two)
    assert list(a) == list(b)
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=tol, rtol=0, msg=k)
    if steps and steps[1] == "cpp":
        assert "one flat all-reduce" in (tmp_path / "two.safetensors.step").read_text()
    _same_history(tmp_path, tol)


def _same_history(tmp_path, tol):
    import json
    h1 = json.loads((tmp_path / "one.safetensors.json").read_text())
    h2 = json.loads((tmp_path / "two.safetensors.json").read_text())
    assert h1.keys() == h2.keys()         # every rank reports the same, all-reduced numbers
    for key in h1:
        assert h2[key] == pytest.approx(h1[key], abs=max(tol, 1e-9), rel=0), key


@pytest.mark.distributed
@pytest.mark.parametrize("case, dtype, tol", [
    ("forecaster", "float64", 1e-12),
    ("classifier", "float64", 1e-12),
    ("generator", "float64", 1e-12),
    ("translator", "float64", 1e-12),
    ("generator", "float32", 1e-5),
])
def test_each_task_trains_on_two_processes_as_on_one(tmp_path, case, dtype, tol):
    rc1, out1, one = _run(tmp_path, 1, "one", "8", case, dtype, source=TASKS)
    assert rc1 == 0, out1
    rc2, out2, two = _run(tmp_path, 2, "two", "4", case, dtype, source=TASKS)
    assert rc2 == 0, out2
    a, b = _weights(one), _weights(two)
    assert list(a) == list(b)
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=tol, rtol=0, msg=k)
    _same_history(tmp_path, tol)


@pytest.mark.distributed
def test_resuming_on_another_world_size_is_refused(tmp_path):
    ck = str(tmp_path / "ck.safetensors")
    rc, out, _ = _run(tmp_path, 2, "two", "4", "resume", "float32", ck)
    assert rc == 0, out
    rc, out, _ = _run(tmp_path, 1, "one", "4", "resume", "float32", ck)
    assert rc != 0
    assert "world_size=2; this run has world_size=1" in out


def test_distributed_true_outside_torchrun_names_what_is_missing(monkeypatch):
    import rnnkit as rk
    for key in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    model = rk.Sequential([rk.GRU(3), rk.Dense(1)])
    with pytest.raises(ValueError, match="MASTER_ADDR, MASTER_PORT, RANK missing"):
        model.fit(torch.randn(4, 3, 2), torch.randn(4, 1), verbose=0, distributed=True)
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE must be a positive int, got 'two'"):
        model.fit(torch.randn(4, 3, 2), torch.randn(4, 1), verbose=0)
    with pytest.raises(TypeError, match="distributed must be True, False or None"):
        model.fit(torch.randn(4, 3, 2), torch.randn(4, 1), verbose=0, distributed="yes")


@pytest.mark.distributed
def test_two_launchers_meet_on_loopback(tmp_path):
    """Multi-node on one machine: two torch.distributed.run invocations, one process each,
    meet at 127.0.0.1 (node ranks 0 and 1, the store on node 0) and train to the weights of
    one process with the global batch.  (The c10d rendezvous backend, which --nproc with
    --rdzv-endpoint uses, was flaky at shutdown on this loaded 2-core machine: the agent
    holding the store can exit before the other reads its last value.)"""
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    rc, out, one = _run(tmp_path, 1, "one", "8", "sequential", "float64", "autograd")
    assert rc == 0, out
    port = _port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = []
    try:
        for node in (0, 1):
            cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=1",
                   "--nnodes=2", f"--node-rank={node}", "--master-addr=127.0.0.1",
                   f"--master-port={port}", str(script),
                   str(tmp_path / f"node{node}.safetensors"), "4", "sequential", "float64",
                   "autograd"]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, env=env, text=True,
                                          start_new_session=True))
        outputs = [_finish(p, 180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                _kill_tree(p.pid)
                p.communicate()
    assert [p.returncode for p in procs] == [0, 0], outputs
    written = [tmp_path / f"node{k}.safetensors" for k in (0, 1)]
    rank0 = [w for w in written if w.exists()]
    assert len(rank0) == 1                 # only the node holding rank 0 writes
    a, b = _weights(one), _weights(rank0[0])
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=1e-12, rtol=0, msg=k)


def _cli(args, cwd, env_extra=None, timeout=180):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    proc = subprocess.Popen([sys.executable, "-m", "rnnkit.cli.main", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            _kill_tree(proc.pid)
            proc.communicate()
    return proc.returncode, out, err


@pytest.mark.distributed
def test_nproc_runs_a_command_on_two_processes_and_rank_zero_reports(tmp_path):
    rc, out, err = _cli(["classify", "digits", "--quick", "--nproc", "2", "--out",
                         str(tmp_path / "c")], tmp_path)
    assert rc == 0, err
    assert out.count("quick: gru") == 1              # one report, from rank 0
    assert (tmp_path / "c" / "metrics.json").is_file()
    assert not list(tmp_path.glob("rnnkit-rank*"))


@pytest.mark.parametrize("args, message", [
    (["--nproc", "0"], "--nproc must be at least 1, got 0"),
    (["--nproc", "two"], "--nproc must be an int, got 'two'"),
    (["--nnodes", "2"], "--nnodes go with --nproc N"),
    (["--nproc", "1", "--nnodes", "2"], "--nnodes 2 needs --rdzv-endpoint HOST:PORT"),
    (["--nproc", "1", "--nnodes", "2", "--rdzv-endpoint", "nowhere"],
     "--rdzv-endpoint must be HOST:PORT"),
])
def test_bad_launcher_options_are_named(tmp_path, args, message):
    rc, out, err = _cli(["classify", "digits", "--quick", *args], tmp_path, timeout=60)
    assert rc == 2 and message in err and "Traceback" not in err


@pytest.mark.distributed
def test_a_rendezvous_nobody_answers_times_out_clearly(tmp_path):
    rc, out, err = _cli(["classify", "digits", "--quick", "--nproc", "1", "--nnodes", "2",
                         "--rdzv-endpoint", f"127.0.0.1:{_port()}"], tmp_path,
                        {"RNNKIT_RDZV_TIMEOUT": "5"}, timeout=90)
    assert rc == 2 and "not all 2 machines joined" in err and "within 5 s" in err


ELASTIC = textwrap.dedent('''
    import os, signal, sys, torch, rnnkit as rk
    from safetensors.torch import save_file
    out, ck, marker = sys.argv[1], sys.argv[2], sys.argv[3]
    torch.set_default_dtype(torch.float64)
    g = torch.Generator().manual_seed(7)
    x, y = torch.randn(48, 6, 3, generator=g), torch.randn(48, 1, generator=g)

    class KillOnce(rk.Callback):     # rank 1 dies by SIGKILL in the middle of epoch 3, once
        def on_batch_end(self, trainer, batch, loss, grad_norm):
            if (marker != "-" and os.environ.get("RANK") == "1" and len(trainer.history.epoch)
                    == 2 and batch == 2 and not os.path.exists(marker)):
                open(marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)

    rk.set_seed(0)
    model = rk.Sequential([rk.GRU(5), rk.Dense(1)])
    model.fit(x, y, epochs=5, batch_size=4, seed=1, verbose=0, checkpoint=ck, resume=ck,
              callbacks=[KillOnce()])
    if rk.training.distributed.is_rank_zero():
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
        with open(out + ".restarts", "w") as f:    # what the elastic agent told this worker
            f.write(os.environ.get("TORCHELASTIC_RESTART_COUNT", "?"))
''')


@pytest.mark.elastic
def test_a_worker_killed_mid_epoch_is_restarted_and_the_run_ends_equal(tmp_path):
    """torchrun's agent keeps one store for every attempt: before the restarted group met
    under keys of its own attempt, a new rank could read its killed peer's gloo address
    and fail ("Connection refused") or hang, in half the runs on a loaded machine."""
    script = tmp_path / "elastic.py"
    script.write_text(ELASTIC)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    outputs = {}
    for name, marker, restarts in (("calm", "-", 0), ("killed", str(tmp_path / "m"), 3)):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2",
               "--standalone", f"--max-restarts={restarts}", "--monitor-interval=0.5",
               str(script), str(tmp_path / f"{name}.st"),
               str(tmp_path / f"{name}.ck"), marker]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=env, text=True, start_new_session=True)
        outputs[name] = _finish(proc, 150)
        assert proc.returncode == 0, outputs[name]
    assert (tmp_path / "m").exists()                           # the kill happened
    # the agent saw a worker fail: the killed one (-9), or the survivor whose all-reduce
    # broke (1) when both are gone by its next poll (it reports the lower local rank)
    assert "failed (exitcode: " in outputs["killed"]
    # one restart: the new group met at once (no attempt lost to a stale address)
    assert (tmp_path / "killed.st.restarts").read_text() == "1", outputs["killed"]
    assert (tmp_path / "calm.st.restarts").read_text() == "0"
    calm, killed = _weights(tmp_path / "calm.st"), _weights(tmp_path / "killed.st")
    for k in calm:
        assert torch.equal(killed[k], calm[k]), k


def test_a_restarted_group_meets_under_keys_of_its_own_attempt(monkeypatch):
    """What the elastic test needs, checked without processes: on one machine, under the
    agent's store, the group's keys carry the attempt; across machines they do not."""
    from torch.distributed import TCPStore

    from rnnkit.training.distributed import _bootstrap_store
    server = TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False,
                      timeout=datetime.timedelta(seconds=10))
    for key, value in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(server.port),
                       "WORLD_SIZE": "2", "GROUP_WORLD_SIZE": "1",
                       "TORCHELASTIC_USE_AGENT_STORE": "True",
                       "TORCHELASTIC_RESTART_COUNT": "1"}.items():
        monkeypatch.setenv(key, value)
    store = _bootstrap_store(datetime.timedelta(seconds=10))
    store.set("rank_1", "127.0.0.1:4242")
    assert server.check(["rnnkit/attempt1/rank_1"])
    assert server.get("rnnkit/attempt1/rank_1") == b"127.0.0.1:4242"
    assert not server.check(["rank_1"])           # a later attempt will not read it
    monkeypatch.setenv("GROUP_WORLD_SIZE", "2")   # agents count restarts apart
    assert _bootstrap_store(datetime.timedelta(seconds=10)) is None
    monkeypatch.setenv("GROUP_WORLD_SIZE", "1")
    monkeypatch.setenv("TORCHELASTIC_USE_AGENT_STORE", "False")   # rank 0 hosts a new one
    assert _bootstrap_store(datetime.timedelta(seconds=10)) is None
