"""The options every training command shares, defined once: the same name, meaning and help
in ``forecast``, ``classify``, ``generate``, ``translate`` and ``tutorial run``.

    --epochs N     at most this many epochs (early stopping may stop sooner)
    --quick        a smoke run in seconds: a slice of the data, one or two epochs, a small
                   model; it writes what a full run writes, and every line it prints says
                   "quick"
    --dry-run      check the data and every option, print the plan (data sizes, model,
                   epochs, what would be written), then stop: nothing is trained or written
    --out DIR      where the report and the model go
    --seed N       seeds data splits, weights, shuffling and sampling
    --threads N    torch threads; by default chosen from the model's size (see
                   ``rnnkit.training.threads``)
    --quiet        no progress bar and no per-epoch lines; results only
    --logdir DIR   TensorBoard event files (pip install 'rnnkit[tensorboard]')
    --precision P  fp32, bf16 or auto: the GEMMs' dtype (``rnnkit.precision``); a command
                   passes it to ``fit(precision=...)``

Boolean options come in pairs written ``--thing/--no-thing``.  Each command declares them
with the ``Annotated`` aliases below, so a help screen shows the same text everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["Epochs", "Quick", "DryRun", "Out", "Seed", "Threads", "Quiet", "LogDir", "Precision",
           "out_folder", "out_file", "plan", "verbose_level", "result", "log_folder",
           "model_folder"]

Epochs = Annotated[int | None, typer.Option(
    min=1, metavar="N", help="At most this many epochs; early stopping may stop sooner "
    "(default: the command's preset).")]
Quick = Annotated[bool, typer.Option(
    "--quick", help="A smoke run in seconds: a slice of the data, a small model, one or two "
    "epochs. Writes what a full run writes; its output says quick.")]
DryRun = Annotated[bool, typer.Option(
    "--dry-run", help="Check the data and every option, print the plan, and stop: nothing "
    "is trained or written.")]
Out = Annotated[Path | None, typer.Option(
    metavar="DIR", help="Folder for the report and the model.")]
Seed = Annotated[int, typer.Option(
    min=0, metavar="N", help="Seeds the data split, the weights, shuffling and sampling.")]
Threads = Annotated[int | None, typer.Option(
    min=1, metavar="N", help="Torch threads (default: chosen from the model's size; small "
    "models run fastest on one).")]
Quiet = Annotated[bool, typer.Option(
    "--quiet", help="No progress bar and no per-epoch lines; results only.")]
def _precision(value: str) -> str:
    from ..precision import PRECISIONS
    if value not in PRECISIONS:
        raise typer.BadParameter(f"must be one of {', '.join(PRECISIONS)}, got {value!r}")
    return value


Precision = Annotated[str, typer.Option(
    metavar="P", callback=_precision,
    help="fp32, bf16 (GEMMs in bfloat16 with fp32 accumulation; states, loss and weights "
    "stay fp32) or auto (bf16 where it was measured to pay).")]
LogDir = Annotated[Path | None, typer.Option(
    "--logdir", metavar="DIR", help="Write TensorBoard event files here (needs the "
    "tensorboard extra).")]


def verbose_level(quiet: bool) -> int:
    """``fit(verbose=...)``: 1 (a bar on a terminal, one line per epoch elsewhere), 0 quiet."""
    return 0 if quiet else 1


def plan(title: str, rows: dict[str, object]) -> None:
    """What ``--dry-run`` prints: a title, then one aligned ``name: value`` line per row."""
    typer.echo(f"dry run: {title}")
    width = max((len(k) for k in rows), default=0)
    for key, value in rows.items():
        typer.echo(f"  {key:<{width}}  {value}")
    typer.echo("nothing trained or written (--dry-run)")


def result(text: str, quick: bool = False) -> None:
    """Print result lines; under ``--quick`` each line starts with ``quick: `` so a smoke
    run's numbers are never mistaken for a real run's."""
    for line in text.splitlines() or [""]:
        typer.echo(f"quick: {line}" if quick else line)


def out_folder(path: Path | None, option: str = "--out",
               holds: str = "the report and the model") -> Path | None:
    """Refuse, before any training, an output folder that cannot be one: an existing file,
    or a path under a file. Shared by the commands that write a report or a model."""
    if path is None:
        return None
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {path} is an existing file; give a folder (it will hold "
                         f"{holds})")
    # a file where a parent folder must be, a NUL byte, an over-long name (imported here:
    # saving imports torch, which `rnnkit --help` does not need)
    from ..saving import check_path

    return check_path(path, option)


def log_folder(path: Path | None) -> Path | None:
    """Refuse, before any training, a ``--logdir`` that cannot be a folder, or one given
    where TensorBoard is not installed."""
    if path is None:
        return None
    out_folder(path, "--logdir", "TensorBoard event files")
    import importlib.util
    if importlib.util.find_spec("tensorboard") is None:
        from ..training.callbacks import TENSORBOARD_HINT
        raise ValueError(f"--logdir {path}: {TENSORBOARD_HINT}")
    return path


def model_folder(path: Path, option: str = "--out", marker: str = "config.json") -> Path:
    """Refuse, before any training, a folder the model could not be saved into: a non-empty
    folder that holds no saved model (``marker`` missing), which saving would refuse after
    the training."""
    if path.is_dir() and not (path / marker).is_file() and any(path.iterdir()):
        raise ValueError(f"{option} {path} is a non-empty folder that holds no saved model; "
                         "give a new or empty folder (rnnkit replaces only files it wrote)")
    return path


def out_file(path: Path | None, option: str) -> Path | None:
    """Refuse, before any work, a file to write that is a folder or lies under no folder."""
    if path is None:
        return None
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise ValueError(f"{option} {path}: the folder {path.parent} does not exist")
    return path
