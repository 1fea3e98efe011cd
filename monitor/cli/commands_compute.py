"""Computation commands: ``schedule``, ``compute`` and the offline ``drift`` check."""

from __future__ import annotations

import json
import math
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from monitor.cli.common import app, err, install_stop_signals, load_context_config
from monitor.cli.tables import print_table
from monitor.clock import iso_utc
from monitor.errors import InputFileError
from monitor.store.engine import create_store_engine
from monitor.store.schema import require_schema

if TYPE_CHECKING:
    from monitor.jobs.compute_window import WindowOutcome
    from monitor.jobs.offline_drift import OfflineDriftReport
    from monitor.metrics.drift import FeatureDriftResult
    from monitor.store.window_state import WindowKey, WindowState

# The statistics (scipy, pandas) load inside the commands that need them, so every
# other command starts fast.

out = Console()
DEFAULT_DRIFT_SHARE = 0.5  # = monitor.metrics.drift.DEFAULT_DRIFT_SHARE (a test keeps them equal)


@app.command()
def schedule() -> None:
    """Compute every due window every schedule.interval, until SIGTERM (no ingestion)."""
    from monitor.jobs.reference_files import check_reference_files
    from monitor.jobs.scheduler import run_schedule

    config = load_context_config()
    check_reference_files(config)
    engine = create_store_engine(config.store, must_exist=True)
    require_schema(engine)
    stop = threading.Event()
    install_stop_signals(stop)
    run_schedule(config, engine, stop)


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputFileError(f"{option} {text!r} is not an ISO-8601 time; write e.g. 2026-03-01T00:00Z") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@app.command()
def compute(
    model: Annotated[str, typer.Option("--model", "-m", help="The model whose windows to compute.")],
    from_: Annotated[str | None, typer.Option("--from", help="First event time (ISO-8601; UTC if no zone).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="End of the range, exclusive (ISO-8601).")] = None,
) -> None:
    """Compute (or recompute) the model's windows now, replacing their metric rows."""
    from monitor.jobs.reference_files import check_reference_files
    from monitor.jobs.scheduler import WindowScheduler

    config = load_context_config()
    config.model(model)
    check_reference_files(config, [model])
    start, end = _moment(from_, "--from"), _moment(to, "--to")
    if start is not None and end is not None and end <= start:
        raise InputFileError(f"--to ({iso_utc(end)}) must be after --from ({iso_utc(start)})")
    engine = create_store_engine(config.store, must_exist=True)
    require_schema(engine)
    scheduler = WindowScheduler(config=config, engine=engine)
    stop = threading.Event()
    install_stop_signals(stop)

    def stop_when_asked() -> None:
        stop.wait()
        scheduler.stop()  # finish the current window, then return

    threading.Thread(target=stop_when_asked, daemon=True).start()
    outcomes: list[WindowOutcome] = []
    busy: list[WindowKey] = []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=False) as progress:
        task = progress.add_task(f"computing {model}", total=None)

        def planned(total: int) -> None:
            progress.update(task, total=total)

        def done(outcome: WindowOutcome | None, key: WindowKey) -> None:
            if outcome is None:
                busy.append(key)
            else:
                outcomes.append(outcome)
            progress.update(task, advance=1, description=f"{model} {key.model_version} {key.start:%Y-%m-%d %H:%M}")

        report = scheduler.backfill(model, start=start, end=end, on_plan=planned, on_window=done)
    failed = [outcome for outcome in outcomes if outcome.status == "failed"]
    degraded = [outcome for outcome in outcomes if outcome.status == "degraded"]
    err.print(f"{len(outcomes) - len(failed)} windows computed ({len(degraded)} with notes), {len(failed)} failed, "
              f"{len(busy)} busy in another scheduler", highlight=False)
    for key in busy[:10]:
        holder = report.holders.get(key)
        err.print(f"  {_busy_line(key, holder)}", highlight=False, markup=False, soft_wrap=True)
    for outcome in failed[:10]:
        err.print(f"  failed {outcome.job.key.model_version} {iso_utc(outcome.job.key.start)}: {outcome.error}",
                  highlight=False, markup=False)
    for outcome in degraded[:10]:
        err.print(f"  note {outcome.job.key.model_version} {iso_utc(outcome.job.key.start)}: "
                  f"{'; '.join(outcome.notes)}", highlight=False, markup=False)
    if failed:
        raise typer.Exit(1)


def _busy_line(key: WindowKey, holder: WindowState | None) -> str:
    """Who computes a window this command found claimed, and until when.

    >>> from monitor.store.window_state import WindowKey, WindowState
    >>> t = datetime(2026, 3, 2, 12, 1, 5, tzinfo=UTC)
    >>> key = WindowKey("fraud", "v1", t.replace(minute=0, second=0), t.replace(hour=13, minute=0, second=0))
    >>> state = WindowState(key, None, None, False, "box:4242:ab12", t.replace(minute=2), claimed_at=t)
    >>> _busy_line(key, state)
    'window 2026-03-02T12:00:00Z of fraud v1 is being computed by box:4242:ab12 (claimed 12:01:05, ...'
    >>> _busy_line(key, state).endswith("lease until 12:02:05 UTC); retry after that or stop that process")
    True
    """
    where = f"window {iso_utc(key.start)} of {key.model} {key.model_version}"
    if holder is None or holder.claimed_by is None:
        return f"{where} was claimed by another scheduler that has finished since; run the command again"
    claimed = "" if holder.claimed_at is None else f"claimed {holder.claimed_at.astimezone(UTC):%H:%M:%S}, "
    until = "?" if holder.claimed_until is None else f"{holder.claimed_until.astimezone(UTC):%H:%M:%S} UTC"
    return (f"{where} is being computed by {holder.claimed_by} ({claimed}lease until {until}); "
            "retry after that or stop that process")


def _names(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def _score(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.6g}"


def _drifted(feature: FeatureDriftResult) -> str:
    if not feature.judged:
        return "[yellow]not judged[/]"
    return "[red]yes[/]" if feature.drifted else "no"


def _print_table(report: OfflineDriftReport) -> None:
    table = Table(title="Feature drift", header_style="bold")
    for column in ("feature", "type", "method", "score", "threshold", "drifted"):
        table.add_column(column, justify="right" if column in ("score", "threshold") else "left")
    for feature in report.result.features:
        learned = " (learned)" if feature.details.get("threshold_source") == "reference" else ""
        table.add_row(feature.feature, feature.feature_type, feature.method, _score(feature.score),
                      f"{feature.threshold:.4g}{learned}", _drifted(feature))
    print_table(out, table)
    result = report.result
    unjudged = len(result.not_judged)
    counts = f"{result.number_of_drifted} of {result.number_of_features} features drifted"
    if unjudged:
        counts += f", {unjudged} not judged"
    if result.dataset_drift is None:
        out.print(f"[bold yellow]dataset drift not judged[/]: {counts}; the unjudged features could tip the verdict "
                  f"(threshold {result.drift_share_threshold:g})")
        return
    verdict = "[bold red]dataset drift[/]" if result.dataset_drift else "[bold green]no dataset drift[/]"
    out.print(f"{verdict}: {counts} (share {result.drift_share:.2f}, threshold {result.drift_share_threshold:g})")


@app.command()
def drift(
    reference: Annotated[Path, typer.Argument(metavar="REFERENCE", help="Baseline data (parquet or csv).")],
    current: Annotated[Path, typer.Argument(metavar="CURRENT", help="Data to check (parquet or csv), same columns.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    method: Annotated[str, typer.Option(help="Drift method for every feature (Evidently key), or auto.")] = "auto",
    threshold: Annotated[str | None, typer.Option(
        metavar="NUMBER|reference",
        help="Threshold for every feature (method default), or 'reference' to learn it from chunks of REFERENCE "
             "as large as CURRENT.")] = None,
    threshold_std: Annotated[float, typer.Option(
        help="With a 'reference' threshold: how many standard deviations of the chunks' scores flag drift.")] = 3.0,
    feature_method: Annotated[list[str] | None, typer.Option(
        "--feature-method", metavar="COLUMN=METHOD",
        help="Drift method for one column, e.g. country=chisquare (repeatable; overrides --method).")] = None,
    feature_threshold: Annotated[list[str] | None, typer.Option(
        "--feature-threshold", metavar="COLUMN=NUMBER|reference",
        help="Threshold for one column, e.g. country=0.1 or country=reference (repeatable; overrides --threshold).")
    ] = None,
    categorical: Annotated[str | None, typer.Option(help="Columns to treat as categorical, comma-separated.")] = None,
    numerical: Annotated[str | None, typer.Option(help="Columns to treat as numerical, comma-separated.")] = None,
    drift_share: Annotated[float, typer.Option(help="Share of drifted features that makes the dataset drift.")] = (
        DEFAULT_DRIFT_SHARE
    ),
) -> None:
    """Offline drift check of two files (no store needed).

    Exits 1 when the dataset drifts, 0 when it does not, 2 on bad input or data
    that cannot be judged (no rows, an empty column, ...).
    """
    from monitor.jobs.offline_drift import check_drift_files

    report = check_drift_files(reference, current, method=method, threshold=threshold, threshold_std=threshold_std,
                               categorical=_names(categorical), numerical=_names(numerical), drift_share=drift_share,
                               feature_methods=feature_method or (), feature_thresholds=feature_threshold or ())
    if as_json:
        typer.echo(json.dumps(report.to_json(), allow_nan=False))
    else:
        _print_table(report)
    lines = report.not_judged_lines()
    if report.exit_code == 2:
        raise InputFileError(f"drift cannot be judged: {'; '.join(lines)}")
    for line in lines:
        err.print(f"warning: not judged (cannot change the verdict): {line}", markup=False, highlight=False,
                  soft_wrap=True)
    raise typer.Exit(report.exit_code)
