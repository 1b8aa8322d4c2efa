"""WLRA Explorer on the command line: problem facts, sweeps, compression, completion, Fisher problems.

Run as ``wlra {info,bench,compress,complete,fisher} ...`` or ``python -m wlra_core ...``.

Every subcommand turns a bad input into one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path

__all__ = ["main", "parse_ranks"]


# Largest rank accepted when no problem bounds it: a matrix with min(n, d) above it would
# hold 10^10 or more entries (80 GB of float64), more than the tool can load.
RANK_LIMIT = 100_000


class UsageError(ValueError):
    """Bad command-line input (reported as one line, exit code 2)."""


def parse_ranks(text: str, max_rank: int | None = None) -> list[int]:
    """``"1-20"``, ``"5,10,20"`` or ``"1-5,10"`` -> sorted unique ranks.

    Every rank must lie in ``1..max_rank`` (the problem's ``min(n, d)``), or in
    ``1..RANK_LIMIT`` without one. Ranges are checked before they are expanded, so
    ``1-100000000`` is one message, not a list of 10^8 numbers.
    """
    spans: list[tuple[int, int]] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if lo > hi:
                    raise UsageError(f"rank range {part[:40]!r} is empty")
                spans.append((lo, hi))
            elif part:
                spans.append((int(part), int(part)))
    except ValueError as err:
        if isinstance(err, UsageError):
            raise
        raise UsageError(f"cannot read ranks {text[:40]!r}; use e.g. 1-20 or 5,10,20") from None
    if not spans:
        raise UsageError("no ranks given")
    limit, limit_text = (RANK_LIMIT, str(RANK_LIMIT)) if max_rank is None else (max_rank, f"min(n, d) = {max_rank}")
    for rank in (min(lo for lo, _ in spans), max(hi for _, hi in spans)):
        if not 1 <= rank <= limit:
            raise UsageError(f"rank must be between 1 and {limit_text}, got {rank}")
    return sorted(set().union(*(range(lo, hi + 1) for lo, hi in spans)))


def check_settings(args) -> None:
    """The sweep settings argparse read as integers (``--trials``, ``--seed``), against their
    declared ranges (:data:`wlra_core.sweep.SETTINGS`)."""
    from .sweep import SETTINGS

    for name, option in SETTINGS.items():
        value = getattr(args, name, None)
        if value is not None and not option.interval.accepts(value):
            raise UsageError(f"{name} must be >= {option.interval.low:g}, got {value}")


def parse_names(text: str) -> list[str]:
    """``"svd,svd_w,em"`` -> algorithm names, each checked against ALGORITHMS."""
    from .algorithms import ALGORITHMS

    names = list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    unknown = [n for n in names if n not in ALGORITHMS]
    if unknown or not names:
        problem = f"unknown algorithm {unknown[0][:40]!r}" if unknown else "no algorithms given"
        raise UsageError(f"{problem}; choose from {', '.join(ALGORITHMS)}")
    return names


def _load(path: str):
    from .datasets.io import load_problem

    # A local file the user names is trusted: no upload size caps (paper-size kernels
    # such as colorectal_histology's 67500 x 1024 exceed them); its declared size is
    # still compared with the free memory before it is read.
    problem = load_problem(path, max_bytes=None, max_entries=None)
    for warning in problem.meta.get("load_warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    return problem


def cmd_info(args) -> int:
    from .report import info_lines, problem_info

    problem = _load(args.problem)
    for label, text in info_lines(problem_info(problem)):
        print(f"{label:<32} {text}")
    return 0


def parse_options(items: list[str] | None) -> dict[str, dict]:
    """``["svd_w.weight_floor=1e-3", ...]`` -> ``{"svd_w": {"weight_floor": 0.001}}``.

    Values are read as the dashboard reads typed-in ones
    (:func:`wlra_core.options.parse_option_text`: JSON numbers, booleans or null, else
    strings); the algorithm's declared options judge them. An empty value is refused: on
    the command line it is a typo, not a request for the default.
    """
    from .options import parse_option_text

    options: dict[str, dict] = {}
    for item in items or []:
        name, equals, value = item.partition("=")
        algorithm, dot, key = name.partition(".")
        if not (algorithm and dot and key and equals and value.strip()):
            raise UsageError(f"cannot read option {item!r}; use ALGORITHM.OPTION=VALUE, e.g. svd_w.weight_floor=1e-3")
        options.setdefault(algorithm, {})[key] = parse_option_text(value)
    return options


def _print_error(update) -> None:
    from .sweep import Fatal, TaskError

    if isinstance(update, (TaskError, Fatal)):
        print(f"  error: {update.error}", file=sys.stderr)


def _print_update(update) -> None:
    from .sweep import ResultEvent

    _print_error(update)
    if isinstance(update, ResultEvent):
        row = update.row
        status = f"FAILED: {row.message}" if row.failed else (
            f"relative loss {row.relative_loss:.6g}  {row.seconds:.3f} s"
            + "".join(f"  {key} {value:.6g}" for key, value in row.evaluation.items()))
        flag = f"  ! {row.warnings}" if row.warnings else ""
        print(f"  {row.method:<16} rank {row.rank:>3} trial {row.trial}: {status}{flag}")


@contextlib.contextmanager
def _executor(scheduler):
    """The sweep executor for ``--scheduler`` (None: in-process).

    ``local`` starts its cluster here, in the main thread, with Ctrl-C ignored while the
    worker processes start: they inherit that, so a Ctrl-C reaches this process alone,
    which stops the run and closes the cluster in order (no traceback from each worker).
    """
    if not scheduler:
        yield None
        return
    from .distributed import OnDask, connect

    if scheduler != "local":
        yield OnDask(scheduler)
        return
    with contextlib.ExitStack() as stack:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            client = stack.enter_context(connect("local"))
        finally:
            signal.signal(signal.SIGINT, previous)
        yield OnDask(client)


# Seconds an interrupted bench waits for its executor to stop (a Dask cluster to shut down).
STOP_SECONDS = 30.0


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like a Ctrl-C so that the same cleanup runs (exit code 143)."""


def _terminate(signum, frame):
    raise Terminated


def _interrupted(interrupt: KeyboardInterrupt, out, path) -> int:
    """Finish an interrupted bench: ``out``'s finished rows put in place whole, or the file
    left as it was; one line on stderr; the exit code of the signal (130 or 143)."""
    for name in ("SIGINT", "SIGTERM"):  # nothing may interrupt the rest
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    if out is None:
        print("interrupted", file=sys.stderr)
    elif out.rows:
        out.commit()
        print(f"interrupted: {out.rows} rows written to {path}", file=sys.stderr)
    else:
        out.discard()
        print(f"interrupted before any row finished: {path} not written", file=sys.stderr)
    return 143 if isinstance(interrupt, Terminated) else 130


def cmd_bench(args) -> int:
    """Rows go to ``--out`` as they finish (:class:`wlra_core.tables.CsvFile`): a SIGINT or
    SIGTERM keeps the finished rows, says so in one line and exits 130 or 143."""
    from .heldout import entry_errors, holdout
    from .sweep import ResultEvent, make_sweep, run_all
    from .tables import MEASURED, ROW_FIELDS, TABLE_RANKS, CsvFile, format_summary, summarize

    if args.holdout is not None and not 0 < args.holdout < 1:
        raise UsageError(f"--holdout must be a fraction strictly between 0 and 1, got {args.holdout:g}")
    problem = _load(args.problem)
    split = None
    if args.holdout is not None:
        split = holdout(problem, fraction=args.holdout, seed=args.seed)
        print(f"held out {split.check.sum():,} of the {int((problem.W > 0).sum()):,} observed entries "
              f"(seed {args.seed}); every method is fitted to the rest")
    evaluation = entry_errors(problem, split)
    sweep = make_sweep({problem.name: problem if split is None else split.fit}, parse_names(args.algorithms),
                       parse_ranks(args.ranks, min(problem.shape)), args.trials, args.seed,
                       parse_options(args.option), evaluation=evaluation)
    measured = () if evaluation is None else evaluation.columns
    out = None

    def on_update(update) -> None:
        if out is not None and isinstance(update, ResultEvent):
            out.add([update.row])  # on the disk before its line is printed
        _print_update(update)

    terminate = signal.signal(signal.SIGTERM, _terminate)
    try:
        out = CsvFile(args.out, [*ROW_FIELDS, *measured]) if args.out else None
        with _executor(args.scheduler) as executor:
            try:
                rows, errors = run_all(sweep, executor=executor, on_update=on_update, wait_on_close=STOP_SECONDS)
            except KeyboardInterrupt as interrupt:  # the cluster this command started closes after
                return _interrupted(interrupt, out, args.out)
    except KeyboardInterrupt as interrupt:  # while the executor was starting
        return _interrupted(interrupt, out, args.out)
    except BaseException:
        if out is not None:
            out.discard()
        raise
    finally:
        signal.signal(signal.SIGTERM, terminate)
    if out is not None:
        out.commit()
        print(f"wrote {out.rows} rows to {args.out}")
    table_ranks = [k for k in TABLE_RANKS if k in sweep.ranks] or [max(sweep.ranks)]
    print(format_summary(summarize(rows, table_ranks, values=(*MEASURED, *measured))))
    return 2 if errors and not rows else 0


def cmd_compress(args) -> int:
    from .compression import compression_sweep, format_table, transform_label, uncompressed_row
    from .tables import write_csv

    problem = _load(args.problem)
    transforms = [transform_label(t) for t in args.weights.split(",") if t.strip()]
    ranks = parse_ranks(args.ranks, min(problem.shape))
    with _executor(args.scheduler) as executor:
        rows, errors = compression_sweep(problem, parse_names(args.algorithms), ranks,
                                         transforms=transforms, seed=args.seed, options=parse_options(args.option),
                                         executor=executor, on_update=_print_error)
    # The original kernel ignores W: it is listed under the first transform, as svd is.
    rows = [uncompressed_row(problem, transforms[0])] + rows
    print(format_table(rows))
    if args.out:
        write_csv(rows, args.out)
        print(f"wrote {len(rows)} rows to {args.out}")
    return 2 if errors and len(rows) == 1 else 0


def _progress_printer(step: float = 0.05):
    """progress(fraction, message) printing to stderr at most once per ``step`` of progress."""
    last = [-1.0]

    def report(fraction: float, message: str) -> None:
        if fraction - last[0] >= step or fraction >= 1.0:
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr)
            last[0] = fraction

    return report


def cmd_fisher(args) -> int:
    import time

    # TensorFlow's C++ INFO/WARNING lines would bury the report; errors still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .datasets.io import save_problem
    from .datasets.pipeline import DEFAULT_CACHE_DIR, fisher_problem, fisher_summary

    start = time.perf_counter()
    problem = fisher_problem(
        args.dataset, hidden=args.hidden, epochs=args.epochs, seed=args.seed,
        max_train=args.max_train, data_dir=args.data_dir, idx_dir=args.idx_dir,
        cache_dir=None if args.no_cache else (args.cache_dir or DEFAULT_CACHE_DIR),
        download=args.download,
        progress=_progress_printer(),
    )
    if args.out:
        save_problem(problem, args.out)
    seconds = time.perf_counter() - start
    facts = fisher_summary(problem)
    meta = problem.meta
    paper = facts["paper_first_singular_mass"]
    n, d = facts["shape"]
    print(f"{'dataset':<28} {meta['dataset']} ({problem.source}: {meta['data_location']})")
    print(f"{'network':<28} {n} -> {meta['hidden']} relu -> {problem.model['output_kernel'].shape[1]}, "
          f"{meta['epochs']} epochs, {meta['n_train']} training images, seed {meta['seed']}")
    print(f"{'test accuracy':<28} {facts['test_accuracy']:.4f} ({meta['n_test']} test images)")
    print(f"{'% Frobenius mass of W in s_1':<28} {facts['first_singular_mass']:.1%} "
          f"(paper Table 2: {'n/a' if paper is None else f'{paper:.1%}'})")
    print(f"{'zero rows of W':<28} {facts['zero_rows']} of {n}")
    print(f"{'zero columns of W':<28} {facts['zero_columns']} of {d}")
    print(f"{'wall time':<28} {seconds:.1f} s")
    if args.out:
        print(f"{'saved':<28} {args.out}")
    return 0


# Files `wlra complete --out` writes: NumPy's binary format, or comma-separated text.
FILLED_FORMATS = (".npy", ".csv")


def _write_matrix_atomically(matrix, path: Path) -> None:
    """Write ``matrix`` to ``path`` (.npy or .csv) through a temporary file and a rename."""
    import numpy as np

    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as fh:
            if path.suffix.lower() == ".npy":
                np.save(fh, matrix, allow_pickle=False)
            else:
                np.savetxt(fh, matrix, delimiter=",", fmt="%.17g")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def cmd_complete(args) -> int:
    from .completion import complete

    out = Path(args.out)
    if out.suffix.lower() not in FILLED_FORMATS:
        raise UsageError(f"--out {out.name!r}: write the filled matrix to a .npy or .csv file")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out.name!r}: folder {str(out.parent)!r} does not exist")
    if not 0 < args.holdout < 1:
        raise UsageError(f"--holdout must be a fraction strictly between 0 and 1, got {args.holdout:g}")
    problem = _load(args.problem)
    ranks = parse_ranks(args.ranks, min(problem.shape)) if args.ranks else None
    missing = int((problem.W == 0).sum())
    print(f"{problem.name}: {problem.shape[0]} x {problem.shape[1]}, {missing:,} entries missing (W = 0); "
          f"holding out {args.holdout:g} of the observed ones (seed {args.seed})")
    result = complete(problem, algorithms=parse_names(args.algorithms), ranks=ranks, holdout=args.holdout,
                      seed=args.seed, progress=_progress_printer(0.2))
    best: dict[tuple, object] = {}
    for row in result.validation:  # the best candidate of each algorithm and rank
        key = (row.algorithm, row.rank)
        if key not in best or row.score < best[key].score:
            best[key] = row
    print(f"\nvalidation ({len(result.validation)} candidates; the best of each algorithm and rank):")
    print(f"  {'algorithm':<12} {'rank':>4}  {'held-out RMSE':>13}  {'relative':>9}  {'fitted rel. loss':>16}  "
          f"{'seconds':>7}  options")
    for row in best.values():
        item = row.as_dict()
        print(f"  {row.algorithm:<12} {row.rank:>4}  {item['validation_rmse']:>13.6g}  "
              f"{item['validation_relative_rmse']:>9.4g}  {item['fitted_relative_loss']:>16.6g}  "
              f"{row.seconds:>7.2f}  {item['options'] or '-'}{'  ! ' + row.message if row.message else ''}")
    chosen = result.chosen
    options = chosen.as_dict()["options"]
    print(f"\nchosen: {result.algorithm} at rank {result.rank}{' (' + options + ')' if options else ''}, "
          f"held-out RMSE {chosen.error.rmse:.6g}; refitted on every observed entry "
          f"(relative loss {result.result.relative_loss:.6g})")
    for warning in result.result.warnings:
        print(f"  ! {warning}")
    _write_matrix_atomically(result.filled, out)
    print(f"wrote the filled matrix (observed entries as given, {missing:,} missing ones from the model) to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    # The `wlra` console script and `python -m wlra_core` are the same program: name the one used.
    prog = "wlra" if Path(sys.argv[0]).name == "wlra" else "python -m wlra_core"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="shape, zero rows/columns and spectrum facts of a problem")
    p.add_argument("problem", help="PROBLEM.npz with arrays A and W (or .npy/.csv/.mtx)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("bench", help="run algorithms over ranks and trials; CSV + summary table")
    p.add_argument("problem")
    p.add_argument("--algorithms", default="svd,svd_w,svd_w_practical,em,svd_w_em,greedy,sample,als,fwsvd")
    p.add_argument("--ranks", default="1-20", help="e.g. 1-20 or 5,10,20")
    p.add_argument("--trials", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="CSV file for every result")
    p.add_argument("--option", action="append", metavar="ALGORITHM.OPTION=VALUE",
                   help="an algorithm option, e.g. svd_w.weight_floor=1e-3 (repeatable)")
    p.add_argument("--scheduler", help="dask scheduler address (tcp://...) or 'local'")
    p.add_argument("--holdout", type=float, metavar="FRACTION",
                   help="hold out this share of the observed (W > 0) entries, fit every method to the rest and "
                        "add its weighted RMSE on them (column heldout_rmse; and missing_rmse, the error on the "
                        "missing entries, for a problem saved with its truth)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("compress", help="put each approximation back into the problem's MLP; test accuracy table")
    p.add_argument("problem", help="PROBLEM.npz made from a trained MLP (arrays A, W, model_*)")
    p.add_argument("--algorithms", default="svd,svd_w,svd_w_practical,fwsvd")
    p.add_argument("--ranks", default="1,2,5,10,20", help="e.g. 1-20 or 5,10,20")
    p.add_argument("--weights", default="F", help="W made from the Fisher information F: F (the paper), "
                   "sqrt(F) (second-order loss expansion), or both: 'F,sqrt(F)'")
    p.add_argument("--option", action="append", metavar="ALGORITHM.OPTION=VALUE",
                   help="an algorithm option, e.g. svd_w.weight_floor=1e-3 (repeatable)")
    p.add_argument("--scheduler", help="dask scheduler address (tcp://...) or 'local'")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="CSV file for every row")
    p.set_defaults(func=cmd_compress)

    from .completion import DEFAULT_ALGORITHMS

    p = sub.add_parser("complete", help="fill the missing entries (NaN, or W = 0) of a matrix, choosing "
                       "algorithm, rank and lambda on held-out observed entries")
    p.add_argument("problem", help="the matrix with NaN for missing entries (.npy/.csv/.mtx), or a .npz with A and W")
    p.add_argument("--out", required=True, help="where to write the filled matrix (.npy or .csv)")
    p.add_argument("--algorithms", default=",".join(DEFAULT_ALGORITHMS), help="candidates, e.g. soft_impute,em,als")
    p.add_argument("--ranks", help="ranks (caps, for soft_impute) to try, e.g. 1-20 or 5,10,20 "
                   "(default 2,5,10,20,40 up to min(n, d))")
    p.add_argument("--holdout", type=float, default=0.1, help="share of the observed entries held out (default 0.1)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_complete)

    p = sub.add_parser("fisher", help="train the paper's MLP on a dataset; save (kernel A, Fisher W)")
    from .datasets.sources import DATASETS

    p.add_argument("--dataset", required=True, choices=list(DATASETS))
    p.add_argument("--out", help="PROBLEM.npz to write (it is also cached under data/cache)")
    p.add_argument("--hidden", type=int, help="hidden units (default: the paper's Table 1; 32 for digits)")
    p.add_argument("--epochs", type=int, help="training epochs (default 5; 50 for digits)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-train", type=int, help="use only the first N training images")
    p.add_argument("--data-dir", help="tensorflow_datasets folder (default $WLRA_TFDS_DIR or data/tfds)")
    p.add_argument("--idx-dir", help="fashion_mnist: folder of the four IDX files to use instead of tfds")
    p.add_argument("--download", action="store_true", help="allow a tfds download when the data is absent")
    p.add_argument("--cache-dir", default=None, help="cache folder (default data/cache)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache: always retrain")
    p.set_defaults(func=cmd_fisher)
    return parser


def main(argv: list[str] | None = None) -> int:
    import contextlib
    import io

    parser = build_parser()
    usage = io.StringIO()
    try:
        with contextlib.redirect_stderr(usage):
            args = parser.parse_args(argv)
    except SystemExit as exit:
        if exit.code in (0, None):  # --help
            raise
        # argparse printed its usage and "prog: error: ..."; the CLI's rule is one line.
        message = (usage.getvalue().strip().splitlines() or ["bad arguments"])[-1]
        print(f"error: {message.split(': error: ', 1)[-1]} (see --help)", file=sys.stderr)
        return 2
    try:
        # Argument checks that need no file come before loading one.
        check_settings(args)
        if hasattr(args, "algorithms"):
            parse_names(args.algorithms)
        status = args.func(args)
        sys.stdout.flush()  # inside the try: a reader that went away is handled below
        return status
    except BrokenPipeError:
        # The reader went away (`wlra info x.npz | head -3`): nothing left to say to it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, OSError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except MemoryError as err:
        print(f"error: not enough memory ({' '.join(str(err).split())})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
