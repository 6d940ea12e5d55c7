"""rnnkit classify's regularisation and fine-tuning options reach the classifier."""

from typer.testing import CliRunner

from rnnkit.cli.main import app


def test_weight_drop_and_ulmfit_options_reach_the_plan():
    out = CliRunner().invoke(app, ["classify", "reviews", "--quick", "--dry-run",
                                   "--weight-dropout", "0.5", "--pretrain-epochs", "1",
                                   "--finetune", "ulmfit"])
    assert out.exit_code == 0, out.output
    assert "weight drop 0.5" in out.output and "ULMFiT fine-tuning" in out.output


def test_bad_weight_drop_and_finetune_are_one_line_errors():
    for args, message in ((["--weight-dropout", "1.5"], "weight_dropout must be a finite "
                                                        "number in [0, 1), got 1.5"),
                          (["--finetune", "ulmfit"], "set pretrain_epochs >= 1"),
                          (["--finetune", "slowly"], "finetune")):
        out = CliRunner().invoke(app, ["classify", "reviews", "--quick", "--dry-run", *args])
        assert out.exit_code != 0 and message in out.output, out.output
        assert "Traceback" not in out.output
