"""Everything rnnkit writes gets the modes a plain open(..., "w") or mkdir would: the
umask's, not tempfile's private 0600 files and 0700 folders."""

import os
import stat
import sys

import pytest
import torch

import rnnkit as rk
from rnnkit import io
from rnnkit.data import TextVectorizer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def plain_modes(tmp_path):
    """What open(..., "w") and mkdir give under the current umask."""
    with open(tmp_path / "plain.txt", "w") as f:
        f.write("x")
    (tmp_path / "plain-dir").mkdir()
    return mode(tmp_path / "plain.txt"), mode(tmp_path / "plain-dir")


def test_umask_is_read_right(umask, tmp_path):
    assert io.created_mode() == 0o666 & ~umask
    assert io.created_mode(folder=True) == 0o777 & ~umask
    assert os.umask(umask) == umask                     # and left as it was


def test_saved_model_checkpoint_and_vocabulary(umask, tmp_path):
    file_mode, dir_mode = plain_modes(tmp_path)
    assert (file_mode, dir_mode) == (0o666 & ~umask, 0o777 & ~umask)
    model = rk.Sequential([rk.GRU(3), rk.Dense(1)])
    x, y = torch.randn(8, 4, 2), torch.randn(8, 1)
    model.fit(x, y, epochs=1, verbose=0, checkpoint=tmp_path / "run.ckpt")
    model.save(tmp_path / "model")
    assert mode(tmp_path / "model") == dir_mode
    for name in ("config.json", "weights.safetensors"):
        assert mode(tmp_path / "model" / name) == file_mode, name
    assert mode(tmp_path / "run.ckpt") == file_mode
    TextVectorizer().adapt(["ab", "ba"]).save(tmp_path / "vocab.json")
    assert mode(tmp_path / "vocab.json") == file_mode
    assert not [p for p in tmp_path.rglob(".*tmp*")]         # no temporary left behind


def test_replacing_a_file_keeps_its_mode(umask, tmp_path):
    """As open(path, "w") does, even for a read-only file (rnnkit replaces by rename)."""
    path = tmp_path / "vocab.json"
    TextVectorizer().adapt(["ab"]).save(path)
    for m in (0o640, 0o444):
        os.chmod(path, m)
        TextVectorizer().adapt(["abc"]).save(path)
        assert mode(path) == m
    assert TextVectorizer.load(path).size == TextVectorizer().adapt(["abc"]).size
    os.chmod(tmp_path / "vocab.json", 0o600)
    io.write_tensors(tmp_path / "w.safetensors", {"a": torch.zeros(2)})
    os.chmod(tmp_path / "w.safetensors", 0o604)
    io.write_tensors(tmp_path / "w.safetensors", {"a": torch.ones(2)})
    assert mode(tmp_path / "w.safetensors") == 0o604


def test_umask_fallback_without_proc(umask, monkeypatch, tmp_path):
    """Where /proc/self/status is missing the umask is read by setting and restoring it."""
    real_open = open

    def no_proc(path, *args, **kwargs):
        if str(path) == "/proc/self/status":
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", no_proc)
    assert io.created_mode() == 0o666 & ~umask
    assert os.umask(umask) == umask
