"""``rnnkit convert``: Keras, torch.nn and rnnkit models into each other and into ONNX, each
conversion followed by its parity report (largest difference on one random batch)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from .options import DryRun, plan

ARCH = re.compile(r"^(lstm|gru|rnn|rnn-relu):(\d+)x(\d+)(:bi)?$")


def _torch_module(source: Path, arch: str | None):
    """nn.LSTM/GRU/RNN from a state_dict file (.pt read with weights_only, or .safetensors)."""
    from torch import nn
    if not arch:
        raise ValueError("--from torch needs --arch CELL:UNITSxLAYERS[:bi], e.g. lstm:64x2")
    m = ARCH.match(arch)
    if m is None:
        raise ValueError(f"--arch {arch!r}: expected CELL:UNITSxLAYERS[:bi] with CELL one of "
                         "lstm, gru, rnn, rnn-relu (e.g. gru:128x1:bi)")
    cell, units, layers, bi = m.group(1), int(m.group(2)), int(m.group(3)), bool(m.group(4))
    from .._checks import check_units
    try:
        check_units("units", units)
        check_units("layers", layers, maximum=64)
    except ValueError as err:
        raise ValueError(f"--arch {arch!r}: {err}") from None
    if source.suffix == ".safetensors":
        from ..saving import read_tensors
        state, _ = read_tensors(source)
    else:
        from ..interop.torch_native import read_state_dict  # weights_only, never more
        state = read_state_dict(source)
    if not isinstance(state, dict) or "weight_ih_l0" not in state:
        keys = sorted(state)[:4] if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{source} is not an nn.{cell.upper()} state_dict (keys {keys})")
    kind = {"lstm": nn.LSTM, "gru": nn.GRU}.get(cell, nn.RNN)
    kw = {"nonlinearity": "relu"} if cell == "rnn-relu" else {}
    module = kind(state["weight_ih_l0"].shape[1], units, num_layers=layers, bidirectional=bi,
                  bias="bias_ih_l0" in state, batch_first=True, **kw)
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{source} does not fit --arch {arch}: {str(err)[:300]}") from None
    return module


def epilog() -> str:
    """The gate-layout table at the foot of ``rnnkit convert --help``, rendered from
    ``rnnkit.interop.layouts`` (the one table every converter reads)."""
    from ..interop.layouts import layout_table
    return ("Gate layouts (rnnkit.interop.layouts): the gate order of each framework in "
            "rnnkit's names (Keras' c is g and its h is n), how weights are stored and how "
            "biases are kept.\n\n\b\n" + layout_table())


def convert(
    source: Annotated[Path, typer.Argument(
        metavar="SOURCE", help="The model to convert: a .keras file, a torch state_dict "
        "(.pt or .safetensors) or an rnnkit model folder.")],
    from_: Annotated[str, typer.Option(
        "--from", metavar="FORMAT", help="keras | torch | rnnkit.")],
    to: Annotated[Path, typer.Option(
        "--to", metavar="TARGET", help="A folder (an rnnkit model), or a file ending in .onnx, "
        ".keras or .weights.h5.")],
    arch: Annotated[str | None, typer.Option(
        metavar="CELL:UNITSxLAYERS[:bi]", help="For --from torch, e.g. lstm:64x2 or "
        "gru:128x1:bi.")] = None,
    dry_run: DryRun = False,
) -> None:
    """Convert a model and print the parity report: the largest difference between the
    source and the converted model on one random batch, per output and state.

    With --dry-run the conversion and its parity check run (an ONNX file goes to a
    temporary folder), and nothing is written to --to.

    \b
    rnnkit convert model.keras --from keras --to runs/m
    rnnkit convert gru.pt --from torch --arch gru:16x2:bi --to runs/m
    rnnkit convert runs/m --from rnnkit --to m.onnx
    """
    import rnnkit as rk

    from ..interop import keras as kx
    from ..interop import torch_native as tn
    try:
        if from_ not in ("keras", "torch", "rnnkit"):
            raise ValueError(f"--from must be keras, torch or rnnkit, got {from_!r}")
        if not source.exists():
            raise ValueError(f"{source} does not exist")
        reports: list[tuple[str, dict[str, float]]] = []
        notes: list[str] = []
        if from_ == "keras":
            # rnnkit's own reader first: it checks the archive and refuses any module or
            # class the config names outside what converts, before Keras ever sees the file
            model = kx.load_keras(source)
            os.environ.setdefault("KERAS_BACKEND", "torch")
            try:
                import keras
            except ImportError:
                keras = None
            if keras is not None:   # the parity check runs Keras itself, when installed
                kmodel = keras.saving.load_model(source, safe_mode=True, compile=False)
                reports.append(("Keras -> rnnkit", kx.parity(kmodel, model)))
        elif from_ == "torch":
            module = _torch_module(source, arch)
            model = tn.from_torch(module)
            reports.append(("torch.nn -> rnnkit", tn.parity(module, model)))
        else:
            _refuse_outside_network(source)
            model = rk.load(source)
        if not isinstance(model, rk.Sequential):
            model = rk.Sequential([model])
        target = str(to)
        if target.endswith(".onnx"):
            from ..interop import onnx as ox
            title = "rnnkit -> ONNX (onnxruntime, T = 3 and 11, full and padded)"
            with tempfile.TemporaryDirectory() as tmp:
                written = ox.export(model, Path(tmp) / to.name if dry_run else to)
                reports.append((title, ox.check(model, written)))
                notes = ox.read_report(written).lines()
        elif target.endswith((".keras", ".weights.h5")):
            kmodel = kx.to_keras(model)
            reports.append(("rnnkit -> Keras", kx.parity(kmodel, model)))
            if not dry_run:
                kx.save_keras(model, to)
        elif not dry_run:
            rk.save(model, to)
    except (ValueError, ImportError) as err:
        raise typer.BadParameter(str(err)) from None
    for title, report in reports:
        typer.echo(title)
        typer.echo(tn.format_parity(report))
    for line in notes:                 # how each layer went into ONNX, and the state inputs
        typer.echo(line)
    if dry_run:
        plan(f"rnnkit convert {source} --from {from_}", {
            "model": ", ".join(type(layer).__name__ for layer in model.layers),
            "parity": "checked above" if reports else "nothing to compare (an rnnkit model)",
            "writes": f"{to} (not written: --dry-run)"})
    else:
        typer.echo(f"wrote {to}")


def _refuse_outside_network(source: Path) -> None:
    """A ValueError naming why a forecaster folder whose forecasts run partly outside any
    network (the ES-RNN hybrid's smoothing, auto's mean or combined) has no one network to
    convert, and what to convert instead."""
    from ..tasks.forecast_auto import saved_kind
    kind = saved_kind(source) if source.is_dir() else None
    if kind in ("hybrid", "mean", "combined") or (source / "hybrid.json").is_file():
        what = {"mean": "the mean of an RNN and the ES-RNN hybrid",
                "combined": "auto's combined (an rnnkit model averaged with a statsforecast "
                            "model)"}.get(kind or "", "the ES-RNN hybrid (its exponential "
                                                       "smoothing runs between network steps)")
        member = " (its RNN is in rnn/: convert that folder)" if (source / "rnn").is_dir() \
            else ""
        raise ValueError(f"{source} holds {what}: its forecasts are not one network's, so it "
                         f"does not convert{member}; rnnkit forecast --strategy direct fits "
                         "the RNN alone")
