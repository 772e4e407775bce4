"""The command line: exit codes, one-line errors, the analyze -> leaderboard chain."""

import json
import subprocess
import sys

import pandas as pd

from stickrole_utils.cli import main
from stickrole_utils.datasets import synthetic_answers


def test_analyze_then_leaderboard_from_separate_runs(tmp_path, capsys):
    chunks = ["chunk_0", "chunk_chess_0", "chunk_no_conv"]
    for i, name in enumerate(("m1", "m2", "m3")):
        synthetic_answers({name: i / 3}, chunks=chunks, n_personas=6, seed=i).to_csv(
            tmp_path / f"{name}.csv", index=False)
        assert main(["-q", "analyze", str(tmp_path / f"{name}.csv"), "--out",
                     str(tmp_path / f"run_{name}"), "--bootstrap", "0"]) == 0
    # leaderboard over metrics analysed separately (e.g. on different machines)
    code = main(["-q", "leaderboard", str(tmp_path / "run_m1"), str(tmp_path / "run_m2" / "m2" / "metrics.json"),
                 str(tmp_path / "run_m3"), "--out", str(tmp_path / "lb"), "--ties", "half"])
    assert code == 0
    lb = pd.read_csv(tmp_path / "lb" / "leaderboard.csv")
    assert sorted(lb["Model"]) == ["m1", "m2", "m3"]
    assert str(tmp_path / "lb" / "leaderboard.csv") in capsys.readouterr().out
    assert json.loads((tmp_path / "lb" / "ranking.json").read_text())["ties"] == "half"
    # the leaderboard stage's settings from a params file's `leaderboard:` section
    params = tmp_path / "p.yaml"
    params.write_text("leaderboard:\n  ties: half\n  seed: 3\n")
    assert main(["-q", "leaderboard", str(tmp_path / "run_m1"), str(tmp_path / "run_m2"),
                 "--out", str(tmp_path / "lb2"), "--params", str(params)]) == 0
    assert json.loads((tmp_path / "lb2" / "ranking.json").read_text())["ties"] == "half"


def test_user_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "missing.csv"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing.csv: answers file not found" in err
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"model": ["m"], "chunk": ["c"]}).to_csv(bad, index=False)
    assert main(["analyze", str(bad), "--out", str(tmp_path)]) == 2
    assert "missing column(s)" in capsys.readouterr().err
    params = tmp_path / "p.yaml"
    params.write_text("analysis:\n  stress: circle\n")
    assert main(["analyze", str(bad), "--out", str(tmp_path), "--params", str(params)]) == 2
    err = capsys.readouterr().err
    assert "analysis setting 'stress'" in err and "'circle'" in err


def test_console_entry_point_runs_as_module(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "stickrole_utils", "--version"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("stickrole ")


def test_plan_is_a_subcommand(tmp_path, capsys):
    from stickrole_utils.cli import build_parser

    args = build_parser().parse_args(["plan", "p.yaml", "--model", "m"])
    assert (args.command, str(args.params), args.model) == ("plan", "p.yaml", "m")
