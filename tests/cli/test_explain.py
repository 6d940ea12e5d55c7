import json
import re

import numpy as np
import torch
from typer.testing import CliRunner

import rnnkit as rk
from rnnkit.cli.main import app
from rnnkit.explain import TUTORIAL_WEIGHTS, explain

runner = CliRunner()


def _printed_output(text: str) -> float:
    return float(re.search(r"output y = \w+\(W_y h_\d+ \+ b_y\) = (-?[\d.]+)", text).group(1))


def test_default_is_the_tutorial_example_and_matches_the_layer():
    result = runner.invoke(app, ["explain"])
    assert result.exit_code == 0, result.output
    assert "h=[-1.30195885, -6.84172580]" in result.output
    rnn = rk.SimpleRNN(2, activation="linear", input_size=1).double()
    dense = rk.Dense(1, input_size=2).double()
    with torch.no_grad():
        rnn.cell.weight_ih.copy_(torch.from_numpy(TUTORIAL_WEIGHTS["weight_ih"]))
        rnn.cell.weight_hh.copy_(torch.from_numpy(TUTORIAL_WEIGHTS["weight_hh"]))
        rnn.cell.bias.zero_()
        dense.weight.copy_(torch.from_numpy(TUTORIAL_WEIGHTS["head.weight"]))
        dense.bias.zero_()
        y = rk.Sequential([rnn, dense])(torch.tensor([[[1.0], [2.0], [3.0]]], dtype=torch.float64))
    assert abs(_printed_output(result.output) - y.item()) < 1e-8
    assert abs(y.item() - (-3.86981216)) < 5e-7          # the tutorial's float32 figure


def test_saved_model_explained_equals_its_prediction(tmp_path):
    torch.manual_seed(0)
    model = rk.Sequential([rk.GRU(3, input_size=2), rk.Dense(1, activation="tanh", input_size=3)])
    model.save(tmp_path / "m")
    result = runner.invoke(app, ["explain", "--model", str(tmp_path / "m"),
                                 "--input", "0.5:1,-1:2,0.25:0"])
    assert result.exit_code == 0, result.output
    x = torch.tensor([[[0.5, 1.0], [-1.0, 2.0], [0.25, 0.0]]])
    assert abs(_printed_output(result.output) - model(x).item()) < 1e-6
    assert "engine=torch: h_3 matches" in result.output and "r=[" in result.output


def test_weights_file_grad_and_plots(tmp_path):
    cell = rk.reference.Cell("lstm")
    params = rk.reference.init_params(cell, 1, 3, K=1, seed=5)
    (tmp_path / "w.json").write_text(json.dumps({k: v.tolist() for k, v in params.items()}))
    result = runner.invoke(app, ["explain", "--cell", "lstm", "--weights", str(tmp_path / "w.json"),
                                 "--random-steps", "60", "--grad", "--plot", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert "|dL/dh|=" in result.output and "vanishing" in result.output
    for name in ("hidden.png", "gates.png", "gradients.png"):
        assert (tmp_path / "p" / name).stat().st_size > 5_000


def test_explain_gradients_equal_autograd():
    cell = rk.reference.Cell("gru", reset_after=False)
    params = rk.reference.init_params(cell, 1, 3, K=1, seed=2)
    x = np.array([0.3, -1.0, 2.0, 0.5])
    exp = explain(x, cell, params, grad=True)
    layer = rk.GRU(3, input_size=1, reset_after=False, return_sequences=True).double()
    with torch.no_grad():
        for name, p in layer.cell.named_parameters():
            p.copy_(torch.from_numpy(params[name]))
    # the dL/dh_t the explanation shows = autograd of y w.r.t. each step's state
    steps = []
    h = None
    for t in range(4):
        xt = torch.tensor([[x[t]]], dtype=torch.float64)
        h = layer.cell(xt, h)[1]
        h.retain_grad()
        steps.append(h)
    y = h @ torch.from_numpy(params["head.weight"]).T + torch.from_numpy(params["head.bias"])
    y.sum().backward()
    np.testing.assert_allclose(exp.dh_norms, [s.grad.norm().item() for s in steps], atol=1e-10)


def test_bad_explain_input_is_named():
    result = runner.invoke(app, ["explain", "--input", "1,a"])
    assert result.exit_code != 0 and "numbers separated by" in result.output
    result = runner.invoke(app, ["explain", "--input", "1:2,3"])
    assert result.exit_code != 0 and "same number of features" in result.output
    result = runner.invoke(app, ["explain", "--cell", "transformer"])
    assert result.exit_code != 0 and "simple, lstm or gru" in result.output
    result = runner.invoke(app, ["explain", "--input", "1:2,3:4"])        # tutorial weights: D=1
    assert result.exit_code != 0 and "expect 1 features per step" in result.output
    result = runner.invoke(app, ["explain", "--dry-run"])
    assert result.exit_code == 0 and "would explain" in result.output


def test_heatmaps_number_steps_and_units_from_one(tmp_path):
    from rnnkit.plots.internals import plot_explanation
    cell = rk.reference.Cell("gru")
    params = rk.reference.init_params(cell, 1, 3, K=1, seed=1)
    exp = explain(np.array([1.0, 2.0, 3.0]), cell, params, grad=True)
    figures = []
    plot_explanation(exp, tmp_path, figures=figures)
    heatmaps = [ax for fig in figures for ax in fig.axes if ax.images]
    assert len(heatmaps) == 4                                   # hidden, r, z, n
    for ax in heatmaps:
        assert list(ax.get_xticks()) == [1, 2, 3]               # t = 1..3, no half steps
        assert list(ax.get_yticks()) == [1, 2, 3]               # units 1..3
        assert ax.get_xlim() == (0.5, 3.5)
    grad_ax = figures[-1].axes[0]
    assert list(grad_ax.get_xticks()) == [1, 2, 3]
    assert [int(v) for v in grad_ax.lines[0].get_xdata()] == [1, 2, 3]


def test_every_engine_is_compared_rnnkit_included():
    result = runner.invoke(app, ["explain", "--cell", "gru", "--units", "3"])
    assert result.exit_code == 0, result.output
    for engine in ("loop", "torch", "rnnkit"):
        assert f"engine={engine}: h_3 matches" in result.output
    result = runner.invoke(app, ["explain"])                    # linear SimpleRNN
    assert "engine=rnnkit: h_3 matches" in result.output
    assert "engine=torch: not eligible for this cell (SimpleRNNCell(activation='linear')" \
        in result.output


def _printed_trend(text):
    from rnnkit.explain import EXPLODING, GRADIENT_RULE, VANISHING
    assert f"gradient rule: {GRADIENT_RULE}" in text
    m = re.search(r"gradient at step 1 / at step (\d+): ([\d.e+-]+); r = [\d.e+-]+\^\(1/\d+\) "
                  r"= ([\d.]+): (\w+)", text)
    T, ratio, factor, label = int(m.group(1)), float(m.group(2)), float(m.group(3)), m.group(4)
    assert abs(ratio ** (1 / (T - 1)) - factor) < 2e-3 * max(factor, 1)
    assert label == ("vanishing" if factor < VANISHING else "exploding" if factor > EXPLODING
                     else "stable")
    return label


def test_gradient_label_follows_the_printed_rule():
    labels = set()
    for args in (["--grad"], ["--cell", "gru", "--units", "3", "--grad"],
                 ["--cell", "simple", "--units", "4", "--seed", "3", "--random-steps", "30",
                  "--grad"]):
        result = runner.invoke(app, ["explain", *args])
        assert result.exit_code == 0, result.output
        labels.add(_printed_trend(result.output))
    assert {"stable", "vanishing"} <= labels
    from rnnkit.explain import gradient_trend
    assert gradient_trend([8.0, 4.0, 2.0, 1.0])[1:] == (2.0, "exploding")
    assert gradient_trend([1.0, 1.0, 1.0])[1:] == (1.0, "stable")
