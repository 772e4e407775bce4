"""The ``stickrole`` command line (README, "Contracts").

Every sub-command is a thin wrapper over one package function. A user error (StickroleError) is
printed as one line on stderr with exit code 2; success exits 0.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .errors import ConfigError, StickroleError, format_validation_error, one_line, shown
from .io import check_out_dir, check_out_file, read_yaml

__all__ = ["main", "build_parser", "settings_from_args", "leaderboard_settings_from_args"]

log = logging.getLogger("stickrole")


def _add_analysis_options(p: argparse.ArgumentParser, *, analysis: bool = True) -> None:
    g = p.add_argument_group("settings (defaults reproduce the leaderboard)")
    g.add_argument("--params", type=Path, help="take the settings from this params file's "
                   "`analysis:` and `leaderboard:` sections (options below override them)")
    if analysis:
        g.add_argument("--unparsed", choices=["random", "drop"])
        g.add_argument("--stress", choices=["original", "dissimilarity"])
        g.add_argument("--cfa-failure", dest="cfa_failure", choices=["original", "nan"])
        g.add_argument("--cfa-crawls", dest="cfa_crawls", choices=["judge", "follow"],
                       help="CFA fits without a minimum: followed to the end as lavaan does "
                       "(default) or judged early (fast)")
        g.add_argument("--bootstrap", type=int, metavar="N")
        g.add_argument("--bootstrap-cardinal", dest="bootstrap_cardinal", type=int, metavar="N")
    g.add_argument("--ties", choices=["loss", "half"], help="win-rate ties (leaderboard.ties)")
    g.add_argument("--chunks", nargs="+", metavar="CHUNK", help="chunk order (and subset)")
    g.add_argument("--seed", type=int, help="seed of the unparsed substitution and bootstrap "
                   "(analyze) or of the ranking sensitivity (leaderboard)")


#: Command-line options of each settings section, by command.
_OPTIONS = {
    ("analyze", "analysis"): ("unparsed", "stress", "cfa_failure", "cfa_crawls", "chunks", "seed",
                              "bootstrap", "bootstrap_cardinal"),
    ("analyze", "leaderboard"): ("ties",),
    ("leaderboard", "leaderboard"): ("ties", "chunks", "seed"),
}


def _settings(args: argparse.Namespace, section: str, cls):
    """A settings model from ``--params`` (its ``section:``) and the command's options.

    An invalid value is reported against where it came from: the params file (checked first,
    alone) or the command-line option.
    """
    from pydantic import ValidationError

    base: dict = {}
    params = getattr(args, "params", None)
    if params:
        base = _params_section(params, section)
        try:
            cls(**base)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(
                exc, str(params), key_label=section + " setting {key!r}")) from None
    options = {}
    for key in _OPTIONS.get((args.command, section), ()):
        val = getattr(args, key, None)
        if val is not None:
            options[key] = val
    try:
        return cls(**{**base, **options})
    except ValidationError as exc:
        key = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else ""
        raise ConfigError(format_validation_error(
            exc, f"option --{key.replace('_', '-')}",
            key_label=section + " setting {key!r}")) from None


def settings_from_args(args: argparse.Namespace):
    """AnalysisSettings from ``--params`` (its ``analysis:`` section) and explicit options."""
    from .config import AnalysisSettings

    return _settings(args, "analysis", AnalysisSettings)


def leaderboard_settings_from_args(args: argparse.Namespace):
    """LeaderboardSettings from ``--params`` (its ``leaderboard:`` section) and options."""
    from .config import LeaderboardSettings

    return _settings(args, "leaderboard", LeaderboardSettings)


def _params_section(path: Path, section: str) -> dict:
    data = read_yaml(path, "params file", ConfigError)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a params file must be a mapping of keys (analysis, ...); "
                          f"got {type(data).__name__}")
    value = data.get(section) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {section!r} must be a mapping of settings (given: "
                          f"{shown(value)})")
    return dict(value)


def _cmd_analyze(args) -> int:
    from .analysis import analyze_files, write_analyses
    from .leaderboard import leaderboard_files, write_leaderboard_files

    lb = leaderboard_settings_from_args(args)
    settings = settings_from_args(args)
    check_out_dir(args.out)
    results = analyze_files(args.answers, settings)
    # the leaderboard is computed (chunks common to all models checked) before anything is
    # written, so that an error leaves args.out as it was
    ranked = {m: a.metrics for m, a in results.items() if a.metrics.chunks}
    board = (leaderboard_files(ranked, lb.chunks or settings.chunks, lb.ties, lb.seed)
             if ranked else None)  # downstream-only tables: metrics.json, no leaderboard
    write_analyses(results, args.out)
    path = write_leaderboard_files(board, args.out) if board else Path(args.out)
    for model, a in results.items():
        m = a.metrics
        log.info("%s: RO %.3f, ipsative %.3f, Cardinal %.3f, %d CFA failure(s)", model,
                 m.rank_order, m.ipsative, m.cardinal, m.cfa_failures)
    print(path)
    return 0


def _cmd_leaderboard(args) -> int:
    from .leaderboard.table import load_metrics, write_leaderboard

    settings_from_args(args)  # a --params file's analysis section must be valid too
    settings = leaderboard_settings_from_args(args)
    check_out_dir(args.out)
    metrics = load_metrics(args.metrics)
    path = write_leaderboard(metrics, args.out, chunks=settings.chunks, ties=settings.ties,
                             seed=settings.seed)
    print(path)
    return 0


def _cmd_import(args) -> int:
    from .analysis.original import import_original
    from .io import atomic_replace

    out = check_out_file(args.out)
    if out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        log.warning("--out %s: suffix %r is neither .csv nor .parquet; writing parquet", out,
                    out.suffix)
    table = import_original(args.result_dirs, model=args.model, mode=args.mode)
    if out.suffix.lower() == ".csv":
        atomic_replace(out, lambda tmp: table.to_csv(tmp, index=False))
    else:
        atomic_replace(out, lambda tmp: table.to_parquet(tmp, index=False))
    log.info("%d answers from %d model(s), %d chunk(s)", len(table), table["model"].nunique(),
             table["chunk"].nunique())
    print(out)
    return 0


def _cmd_generate(args) -> int:
    from .generation import load_params
    from .generation.generate import generate_from_params

    if load_params(args.params).experiment is not None:
        raise ConfigError(f"{args.params}: the params hold an experiment grid; `stickrole run` "
                          "runs every grid point (or generate one point from its "
                          "<output_dir>/<run>/<point>/params.json)")
    for path in generate_from_params(args.params, model=args.model, force=args.force):
        print(path)
    return 0


def _cmd_plan(args) -> int:
    from .config import expand_grid, point_label
    from .generation import load_params
    from .generation.cost import format_plan, format_plan_total, plan_run

    cfg = load_params(args.params)
    entries = [cfg.model(args.model)] if args.model else list(cfg.models)
    points = expand_grid(cfg)
    planned = []
    for point, point_cfg in points:
        if point:
            print(f"# grid point {point_label(point)} ({len(points)} points)")
        plans = plan_run(point_cfg, [point_cfg.model(e.name) for e in entries])
        planned.append((point_label(point), plans))
        print(format_plan(point_cfg, plans), end="")
    if cfg.experiment is not None:
        print(f"# {cfg.run}: all grid points")
        print(format_plan_total(planned), end="")
    return 0


def _cmd_run(args) -> int:
    from .generation import load_params, preflight
    from .pipeline import run_experiment
    from .pipeline.run import RunInterrupted

    # everything a run needs is checked before any model loads or notebook starts: the params
    # (schema, names, files), and per model what `generate` checks before it loads the model
    cfg = load_params(args.params)
    entries = [cfg.model(m) for m in args.model] if args.model else list(cfg.models)
    preflight(cfg, entries, force=args.force)
    try:
        summary = run_experiment(args.params, force=args.force, kernel_name=args.kernel,
                                 models=args.model or None, engine=args.engine,
                                 address=args.address)
    except RunInterrupted as stop:
        print(stop.summary.to_text())
        print(stop.summary.index_html)
        print(f"stickrole run: interrupted: {len(stop.stopped)} stage(s) stopped; run the same "
              "command again to resume", file=sys.stderr)
        return 130
    print(summary.to_text())
    print(summary.index_html)
    return 0 if summary.ok else 1


def _check_run_dir(run_dir: Path) -> None:
    """What ``report`` reads from a run directory, read once before any notebook starts."""
    from .layout import ModelFiles, RunLayout
    from .leaderboard import load_metrics
    from .records import read_leaderboard, read_run_config, read_run_summary

    layout = RunLayout(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: not a directory; give a run directory "
                          "(<output_dir>/<run>, holding <model>/metrics.json)")
    files = [ModelFiles(d).metrics for d in layout.analysed_model_dirs()]
    if files:
        load_metrics(files)
    read_run_config(run_dir)
    read_run_summary(run_dir)
    read_leaderboard(run_dir)


def _cmd_report(args) -> int:
    from .pipeline import build_report

    _check_run_dir(Path(args.run_dir))
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
    p.add_argument("--address", help="join the Ray cluster whose head is at ADDR (host:port); "
                   "default: RAY_ADDRESS if set, else start a local Ray instance of this run's "
                   "own (localhost only, no dashboard; a cluster found on the machine is never "
                   "joined); `local` forces a local instance")
    p.add_argument("--engine", choices=["ray", "local"], default=None,
                   help="ray: every stage a Ray task; local: one after the other in this "
                   "process (default: execution.engine of the params, ray)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("generate", help="generation only; resumes where it stopped")
    p.add_argument("params", type=Path)
    p.add_argument("--model", help="only this model (name as in params)")
    p.add_argument("--force", action="store_true", help="discard earlier results and start over")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("plan", help="the units, tokens and ETA of a run, before any model loads")
    p.add_argument("params", type=Path)
    p.add_argument("--model", help="only this model (name as in params)")
    p.set_defaults(func=_cmd_plan)

    p = sub.add_parser("analyze", help="answers tables -> DIR/<model>/metrics.json, DIR/leaderboard.csv")
    p.add_argument("answers", nargs="+", type=Path, help="answers tables (CSV or parquet)")
    p.add_argument("--out", required=True, type=Path)
    _add_analysis_options(p)
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("import-original", help="the original code's result dirs -> answers table")
    p.add_argument("result_dirs", nargs="+", type=Path)
    p.add_argument("--out", required=True, type=Path, help="answers table (.parquet or .csv)")
    p.add_argument("--model", help="model name (default: the results' engine)")
    p.add_argument("--mode", choices=["auto", "cot", "direct"], default="auto",
                   help="how the stored replies were asked for, to re-read them with the "
                   "original's rule (an unparsable one was stored as a random option: imported "
                   "as unparsed); auto: cot when most replies hold 'Answer:'")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("leaderboard", help="metrics.json files or run dirs -> DIR/leaderboard.csv")
    p.add_argument("metrics", nargs="+", type=Path)
    p.add_argument("--out", required=True, type=Path)
    _add_analysis_options(p, analysis=False)
    p.set_defaults(func=_cmd_leaderboard)

    p = sub.add_parser("report", help="(re)build the HTML report of a run directory")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--kernel", default=None, help="Jupyter kernel for the report notebooks")
    p.set_defaults(func=_cmd_report)
    return parser


def _file_in_traceback(exc: BaseException) -> str:
    """The file being read where ``exc`` was raised: the innermost frame's local that is the path
    of an existing file (``"an input file"`` if there is none)."""
    import os

    tb, found = exc.__traceback__, "an input file"
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if isinstance(value, os.PathLike) and os.path.isfile(value):
                found = os.fspath(value)
                break
        tb = tb.tb_next
    return found


def _unexpected_input_error(exc: BaseException) -> str | None:
    """A one-line message for an exception that a user's file or path caused, which no reader
    turned into a StickroleError (the last line of defence); ``None`` for anything else."""
    import json

    if isinstance(exc, UnicodeDecodeError):
        return (f"{_file_in_traceback(exc)}: not UTF-8 text: byte "
                f"0x{exc.object[exc.start]:02x} at offset {exc.start}; save it as UTF-8")
    if isinstance(exc, json.JSONDecodeError):
        return (f"{_file_in_traceback(exc)}: invalid JSON at line {exc.lineno} column "
                f"{exc.colno}: {exc.msg}")
    if isinstance(exc, OverflowError):
        return f"{_file_in_traceback(exc)}: a number is too large ({exc})"
    if isinstance(exc, (IsADirectoryError, NotADirectoryError, FileExistsError, PermissionError,
                        FileNotFoundError)):
        what = {IsADirectoryError: "is a directory where a file is expected",
                NotADirectoryError: "a part of this path is a file where a directory is expected",
                FileExistsError: "exists and is not a directory",
                PermissionError: "permission denied",
                FileNotFoundError: "not found"}[type(exc)]
        return f"{exc.filename}: {what}" if exc.filename else f"{what} ({exc})"
    try:
        import yaml
        from pydantic import ValidationError
    except ImportError:  # pragma: no cover - both are dependencies
        return None
    if isinstance(exc, yaml.YAMLError):
        return f"{_file_in_traceback(exc)}: not valid YAML: {exc}"
    if isinstance(exc, ValidationError):
        return format_validation_error(exc, f"invalid {exc.title}")
    return None


def _runner_log_handler() -> None:
    """The batch runner's progress lines read best bare: one handler on its logger, bound to the
    current stderr (replaced on each call, so repeated in-process calls do not stack them)."""
    runner_log = logging.getLogger("stickrole_utils.pipeline")
    for h in list(runner_log.handlers):
        if getattr(h, "_stickrole_cli", False):
            runner_log.removeHandler(h)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._stickrole_cli = True  # type: ignore[attr-defined]
    runner_log.addHandler(handler)
    runner_log.propagate = False


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 a stage failed, 2 a user error,
    130 interrupted by Ctrl-C).

    Every user error ends as one line on stderr, ``stickrole COMMAND: error: MESSAGE``.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    _runner_log_handler()
    try:
        return int(args.func(args) or 0)
    except StickroleError as exc:
        message = str(exc)
    except KeyboardInterrupt:
        print(f"stickrole {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        message = _unexpected_input_error(exc)
        if message is None:
            raise
    print(f"stickrole {args.command}: error: {one_line(message)}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
