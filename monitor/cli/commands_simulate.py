"""``driftwatch simulate``: a realistic prediction + label stream with injected faults."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.common import app, err, install_stop_signals, load_context_config
from monitor.clock import utc_now
from monitor.config.durations import parse_duration
from monitor.errors import ConfigError
from monitor.simulate.scenario import DEFAULT_SCENARIO, load_scenario


def _duration(text: str | None, option: str) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None


@app.command()
def simulate(
    rate: Annotated[float, typer.Option(help="Predictions per second (real time).")] = 300.0,
    duration: Annotated[str | None, typer.Option(help="How long to run (real time), e.g. 10m.")] = None,
    count: Annotated[int | None, typer.Option(help="Stop after this many predictions.")] = None,
    speedup: Annotated[float, typer.Option(help="Event-time seconds per real second (60: an hour a minute).")] = 1.0,
    start: Annotated[str | None, typer.Option(help="Event time of the first message (ISO-8601); default now.")] = None,
    models: Annotated[str, typer.Option(help="Comma-separated: fraud, demand, intent.")] = "fraud,demand",
    scenario: Annotated[Path | None, typer.Option(help="Scenario YAML (faults to inject); default built in.")] = None,
    no_faults: Annotated[bool, typer.Option("--no-faults", help="A clean stream, no injected faults.")] = False,
    label_coverage: Annotated[float, typer.Option(help="Share of predictions that get a label.")] = 0.8,
    label_delay: Annotated[str, typer.Option(help="Median label delay (event time), e.g. 30s or 2h.")] = "30s",
    reference_dir: Annotated[Path | None, typer.Option(help="Write each model's reference parquet here.")] = None,
    unpaced: Annotated[bool, typer.Option("--unpaced", help="Send as fast as possible (ignore --rate pacing).")]
    = False,
    seed: Annotated[int | None, typer.Option(help="Override the scenario's seed.")] = None,
    id_prefix: Annotated[str, typer.Option(help="Prefix every prediction_id, so another run into the same store "
                                           "does not repeat the ids of an earlier one.")] = "",
) -> None:
    """Produce a realistic prediction + label stream to Kafka, with drift, latency spikes and errors injected."""
    # Imported here: pandas loads only when a stream is actually simulated.
    from monitor.simulate.models import check_scenario
    from monitor.simulate.runner import simulate as run_simulation
    from monitor.simulate.runner import write_reference_files
    from monitor.simulate.stream import StreamSettings

    config = load_context_config()
    chosen = tuple(name.strip() for name in models.split(",") if name.strip())
    if scenario is None:  # the built-in faults of the models streamed
        plan = DEFAULT_SCENARIO.model_copy(update={"events": [
            event for event in DEFAULT_SCENARIO.events if event.model is None or event.model in chosen]})
    else:
        plan = load_scenario(scenario)
    if no_faults:
        plan = plan.model_copy(update={"events": []})
    if seed is not None:
        plan = plan.model_copy(update={"seed": seed})
    check_scenario(plan.events, chosen)
    try:
        first = datetime.fromisoformat(start) if start else utc_now()
    except ValueError:
        raise ConfigError(f"--start {start!r} is not ISO-8601; write e.g. 2026-01-01T00:00:00Z") from None
    if first.tzinfo is None:
        raise ConfigError(f"--start {start!r} needs a time zone, e.g. 2026-01-01T00:00:00Z")
    delay = _duration(label_delay, "--label-delay")
    run_for = _duration(duration, "--duration")
    if run_for is None and count is None:
        raise ConfigError("give --duration (e.g. 10m) or --count (e.g. 100000) so the simulation ends")
    try:
        settings = StreamSettings(models=chosen, rate=rate, speedup=speedup, start=first,
                                  label_coverage=label_coverage, label_delay_median=delay or timedelta(seconds=30),
                                  id_prefix=id_prefix)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if reference_dir is not None:
        for path in write_reference_files(chosen, reference_dir):
            err.print(f"wrote reference {path}", highlight=False)
    stop = threading.Event()
    install_stop_signals(stop)
    report = run_simulation(config.kafka, settings, plan, count=count,
                            duration_s=run_for.total_seconds() if run_for else None, paced=not unpaced, stop=stop)
    err.print(f"sent {report.predictions} predictions, {report.labels} labels and {report.malformed} malformed "
              f"messages in {report.elapsed_s:.1f}s", highlight=False, soft_wrap=True)
