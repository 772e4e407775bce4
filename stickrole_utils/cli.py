"""The ``stickrole`` command line (DESIGN.md command-line contract).

Every sub-command is a thin wrapper over one package function. A user error (StickroleError) is
printed as one line on stderr with exit code 2; success exits 0.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .errors import ConfigError, StickroleError

__all__ = ["main", "build_parser", "settings_from_args"]

log = logging.getLogger("stickrole")


def _add_analysis_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("analysis settings (defaults reproduce the leaderboard)")
    g.add_argument("--params", type=Path, help="take the analysis settings from this params "
                   "file's `analysis:` section (options below override them)")
    g.add_argument("--unparsed", choices=["random", "drop"])
    g.add_argument("--stress", choices=["original", "dissimilarity"])
    g.add_argument("--cfa-failure", dest="cfa_failure", choices=["original", "nan"])
    g.add_argument("--ties", choices=["loss", "half"])
    g.add_argument("--chunks", nargs="+", metavar="CHUNK", help="chunk order (and subset)")
    g.add_argument("--seed", type=int)
    g.add_argument("--bootstrap", type=int, metavar="N")
    g.add_argument("--bootstrap-cardinal", dest="bootstrap_cardinal", type=int, metavar="N")


def settings_from_args(args: argparse.Namespace):
    """AnalysisSettings from ``--params`` (its ``analysis:`` section) and explicit options."""
    from pydantic import ValidationError

    from .settings import AnalysisSettings

    base: dict = {}
    if getattr(args, "params", None):
        base = _analysis_section(args.params)
    for key in ("unparsed", "stress", "cfa_failure", "ties", "chunks", "seed", "bootstrap",
                "bootstrap_cardinal"):
        val = getattr(args, key, None)
        if val is not None:
            base[key] = val
    try:
        return AnalysisSettings(**base)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"analysis setting {where!r}: {err['msg']} (got {err.get('input')!r})") from None


def _analysis_section(path: Path) -> dict:
    import yaml

    if not path.exists():
        raise ConfigError(f"{path}: params file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    section = data.get("analysis", {}) if isinstance(data, dict) else {}
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: 'analysis' must be a mapping of settings")
    return dict(section)


def _cmd_analyze(args) -> int:
    from .analysis import analyze_files

    settings = settings_from_args(args)
    results = analyze_files(args.answers, args.out, settings)
    for model, a in results.items():
        m = a.metrics
        log.info("%s: RO %.3f, ipsative %.3f, Cardinal %.3f, %d CFA failure(s)", model,
                 m["rank_order"], m["ipsative"], m["cardinal"], m["cfa_failures"])
    print(Path(args.out) / "leaderboard.csv")
    return 0


def _cmd_leaderboard(args) -> int:
    from .leaderboard import load_metrics, write_leaderboard

    settings = settings_from_args(args)
    metrics = load_metrics(args.metrics)
    path = write_leaderboard(metrics, args.out, chunks=settings.chunks, ties=settings.ties)
    print(path)
    return 0


def _cmd_import(args) -> int:
    from .original import import_original

    table = import_original(args.result_dirs, model=args.model)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        table.to_csv(out, index=False)
    else:
        table.to_parquet(out, index=False)
    log.info("%d answers from %d model(s), %d chunk(s)", len(table), table["model"].nunique(),
             table["chunk"].nunique())
    print(out)
    return 0


def _cmd_generate(args) -> int:
    from .generate import generate_from_params

    for path in generate_from_params(args.params, model=args.model, force=args.force):
        print(path)
    return 0


def _cmd_run(args) -> int:
    from .pipeline import run_experiment

    summary = run_experiment(args.params, force=args.force, kernel_name=args.kernel,
                             models=args.model or None)
    print(summary.to_text())
    print(summary.index_html)
    return 0 if summary.ok else 1


def _cmd_report(args) -> int:
    from .pipeline import build_report

    print(build_report(args.run_dir, kernel_name=args.kernel))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="stickrole",
        description="Value stability of LLM-simulated personas (Stick to Your Role! protocol).",
    )
    parser.add_argument("--version", action="version", version=f"stickrole {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="every stage for every model in PARAMS, then the report")
    p.add_argument("params", type=Path)
    p.add_argument("--model", action="append", help="only this model (repeatable)")
    p.add_argument("--force", action="store_true",
                   help="re-run every stage; generation discards earlier answers and starts over")
    p.add_argument("--kernel", default="stickrole", help="Jupyter kernel for the notebooks "
                   "(default: stickrole, registered by `make env`)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("generate", help="generation only; resumes where it stopped")
    p.add_argument("params", type=Path)
    p.add_argument("--model", help="only this model (name as in params)")
    p.add_argument("--force", action="store_true", help="discard earlier results and start over")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("analyze", help="answers tables -> DIR/<model>/metrics.json, DIR/leaderboard.csv")
    p.add_argument("answers", nargs="+", type=Path, help="answers tables (CSV or parquet)")
    p.add_argument("--out", required=True, type=Path)
    _add_analysis_options(p)
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("import-original", help="the original code's result dirs -> answers table")
    p.add_argument("result_dirs", nargs="+", type=Path)
    p.add_argument("--out", required=True, type=Path, help="answers table (.parquet or .csv)")
    p.add_argument("--model", help="model name (default: the results' engine)")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("leaderboard", help="metrics.json files or run dirs -> DIR/leaderboard.csv")
    p.add_argument("metrics", nargs="+", type=Path)
    p.add_argument("--out", required=True, type=Path)
    _add_analysis_options(p)
    p.set_defaults(func=_cmd_leaderboard)

    p = sub.add_parser("report", help="(re)build the HTML report of a run directory")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--kernel", default=None, help="Jupyter kernel for the report notebooks")
    p.set_defaults(func=_cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    # the batch runner's progress lines read best bare
    runner_handler = logging.StreamHandler()
    runner_handler.setFormatter(logging.Formatter("%(message)s"))
    runner_log = logging.getLogger("stickrole_utils.pipeline")
    runner_log.addHandler(runner_handler)
    runner_log.propagate = False
    try:
        return int(args.func(args) or 0)
    except StickroleError as exc:
        print(f"stickrole {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"stickrole {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
