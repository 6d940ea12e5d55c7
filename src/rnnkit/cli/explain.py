"""``rnnkit explain``: every hidden state, step by step, checked against the rnnkit layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from .. import reference as ref
from ..explain import (
    ENGINES,
    GRADIENT_RULE,
    TUTORIAL_WEIGHTS,
    from_model,
    gradient_trend,
    load_weights,
)
from ..explain import explain as run_explain
from .options import out_folder

TUTORIAL_SOURCE = "the tutorial's printed weights"


def _vec(v: np.ndarray) -> str:
    return "[" + ", ".join(f"{a:.8f}" for a in np.ravel(v)) + "]"


def _parse_input(text: str) -> np.ndarray:
    """"1,2,3" is three steps of one feature; "1:0.5,2:1" two steps of two features."""
    try:
        steps = [[float(v) for v in step.split(":")] for step in text.split(",") if step.strip()]
    except ValueError:
        raise typer.BadParameter(f"numbers separated by ',' (steps) and ':' (features), "
                                 f"got {text!r}", param_hint="--input") from None
    if not steps:
        raise typer.BadParameter(f"no steps given (numbers separated by ',' for steps and "
                                 f"':' for features), got {text!r}", param_hint="--input")
    if len({len(s) for s in steps}) != 1:
        raise typer.BadParameter("every step needs the same number of features",
                                 param_hint="--input")
    x = np.array(steps)
    if not np.isfinite(x).all():
        raise typer.BadParameter(f"every value must be a finite number, got {text!r}",
                                 param_hint="--input")
    return x


def explain(
    cell: str = typer.Option("simple", help="simple | lstm | gru"),
    units: int = typer.Option(2, min=1, max=1024, help="hidden units H (at most 1,024: "
                              "every unit is printed)"),
    activation: str = typer.Option(None, help="SimpleRNN activation (default: linear for the "
                                              "tutorial's example, else tanh)"),
    reset_after: bool = typer.Option(True, "--reset-after/--reset-before", help="GRU form"),
    input: str = typer.Option("1,2,3", "--input", help="steps separated by ',', features by ':'"),
    random_steps: int = typer.Option(0, min=0, help="use this many N(0,1) steps instead of "
                                                    "--input (a long input shows gradients "
                                                    "vanish)"),
    weights: Path = typer.Option(None, help="JSON of torch-layout arrays (weight_ih, weight_hh, "
                                            "bias..., optional head.weight, head.bias)"),
    model: Path = typer.Option(None, help="a saved rnnkit model folder: its first recurrent "
                                          "layer (and a Dense(1) after it)"),
    seed: int = typer.Option(None, help="random weights U(-0.5, 0.5) from this seed"),
    grad: bool = typer.Option(False, "--grad", help="add ||dL/dh_t|| per step, L = the output"),
    plot: Path = typer.Option(None, help="write hidden.png, gates.png (and gradients.png) here"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check the options and stop"),
) -> None:
    """Print each step's input, gates and hidden state with the equation they come from,
    then the same numbers from the rnnkit layer on every engine and their difference.

    With no options: the tutorial's SimpleRNN(2, linear) + Dense(1) on x = [1, 2, 3]."""
    if cell not in ("simple", "lstm", "gru"):
        raise typer.BadParameter(f"must be simple, lstm or gru, got {cell!r}", param_hint="--cell")
    if weights is not None and model is not None:
        raise ValueError("give --weights FILE or --model DIR, not both")
    if seed is not None and seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    out_folder(plot, "--plot", "the plots")
    x = (np.random.default_rng(seed or 0).normal(size=(random_steps, 1)) if random_steps
         else _parse_input(input))
    head_act = "linear"
    if model is not None:
        import rnnkit as rk
        spec, params, head_act = from_model(rk.load(model))
        source = f"model {model}"
    else:
        tutorial = (weights is None and seed is None and cell == "simple" and units == 2
                    and activation in (None, "linear"))
        spec = ref.Cell(cell, activation=activation or ("linear" if tutorial else "tanh"),
                        reset_after=reset_after)
        if weights is not None:
            params, source = load_weights(weights, spec), f"weights {weights}"
        elif tutorial:
            params, source = TUTORIAL_WEIGHTS, TUTORIAL_SOURCE
        else:
            params = ref.init_params(spec, x.shape[1], units, K=1, seed=seed or 0)
            source = f"random U(-0.5, 0.5), seed {seed or 0}"
    if dry_run:
        kind = spec.kind.upper() if spec.kind in ("lstm", "gru") else spec.kind
        article = "an" if kind[:1].lower() in "aeiou" or kind.startswith("LSTM") else "a"
        typer.echo(f"would explain {article} {kind} cell ({source}) on {x.shape[0]} steps")
        return
    exp = run_explain(x, spec, params, head_activation=head_act or "linear", grad=grad)
    _print(exp, source)
    if plot is not None:
        from ..plots.internals import plot_explanation
        for path in plot_explanation(exp, plot):
            typer.echo(f"wrote {path}")


def _print(exp, source: str) -> None:
    H = exp.hidden.shape[1]
    name = {"simple": f"SimpleRNN({H}, {exp.cell.activation})", "lstm": f"LSTM({H})",
            "gru": f"GRU({H}, reset_after={exp.cell.reset_after})"}[exp.cell.kind]
    head = f" + Dense(1, {exp.head_activation})" if exp.output is not None else ""
    typer.echo(f"{name}{head}, {source}")
    for eq in exp.equations:
        typer.echo(f"  {eq}")
    for t in range(exp.x.shape[0]):
        parts = [f"t={t + 1}", f"x={_vec(exp.x[t])}"]
        parts += [f"{g}={_vec(v[t])}" for g, v in exp.gates.items()]
        parts.append(f"h={_vec(exp.hidden[t])}")
        if exp.dh_norms is not None:
            parts.append(f"|dL/dh|={exp.dh_norms[t]:.3e}")
        typer.echo("  ".join(parts))
    T = exp.x.shape[0]
    if exp.output is not None:
        typer.echo(f"output y = {exp.head_activation}(W_y h_{T} + b_y) = {exp.output:.8f}")
        if source == TUTORIAL_SOURCE and T == 3:
            typer.echo("  (the tutorial printed -3.86981216: the same sum in float32)")
    for engine in ENGINES:
        if engine in exp.engines:
            d = exp.engines[engine]
            typer.echo(f"rnnkit layer, engine={engine}: h_{T} "
                       f"{'matches' if d['matches'] else 'DIFFERS'}, "
                       f"max |difference| = {d['max_abs_diff_h']:.1e}")
        else:
            typer.echo(f"rnnkit layer, engine={engine}: not eligible for this cell "
                       f"({exp.not_eligible[engine]})")
    sat = exp.saturation()
    if sat:
        typer.echo("saturated gates (within 0.05 of their bounds): "
                   + ", ".join(f"{k} {v:.0%}" for k, v in sat.items()))
    if exp.dh_norms is not None and len(exp.dh_norms) > 1:
        ratio, factor, label = gradient_trend(exp.dh_norms)
        typer.echo(f"gradient rule: {GRADIENT_RULE}")
        typer.echo(f"gradient at step 1 / at step {T}: {ratio:.2e}; r = {ratio:.2e}^(1/{T - 1}) "
                   f"= {factor:.3f}: {label}")
