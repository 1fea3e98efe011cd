"""Rules on segments: ``segment: "country=*"`` opens one alert per drifting segment, each
with its own state and notifications naming it; a rule without ``segment`` watches the
whole model only. Real windows: a simulated stream, the scheduler, the evaluator."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from alerts.channels.presentation import headline, summary_fields
from alerts.notification import Notification
from monitor.config.loader import config_from_mapping
from monitor.simulate.models import model_configs
from monitor.simulate.runner import write_reference_files
from monitor.store.tables import alerts, notifications
from tests.support.computed import START, compute_and_evaluate, ingest_simulated_stream

# France drifts from minute 10 to 40, Germany from 30 to 70 (amount and account age, nowhere else).
SCENARIO = {"seed": 7, "events": [
    {"kind": "covariate_drift", "model": "fraud", "at": "10m", "duration": "30m",
     "features": ["amount", "account_age_days"], "shift": 2.0, "segment": "country=FR"},
    {"kind": "covariate_drift", "model": "fraud", "at": "30m", "duration": "40m",
     "features": ["amount", "account_age_days"], "shift": 2.0, "segment": "country=DE"},
]}
RULES = [
    {"name": "country-drift", "model": "fraud", "metric": "dataset_drift_share", "segment": "country=*",
     "when": "> 0.3", "for": 1, "channels": ["retrain"]},
    {"name": "german-drift", "model": "fraud", "metric": "dataset_drift_share", "segment": "country=DE",
     "when": "> 0.3", "for": 1},
    {"name": "model-drift", "model": "fraud", "metric": "dataset_drift_share", "when": "> 0.99", "for": 1},
]


def _alerts(engine: Engine, rule: str) -> dict[str | None, list[tuple[str, str]]]:
    found: dict[str | None, list[tuple[str, str]]] = {}
    with engine.connect() as connection:
        for row in connection.execute(select(alerts).where(alerts.c.rule == rule).order_by(alerts.c.id)):
            found.setdefault(row.segment, []).append((row.state, row.started_at.isoformat()))
    return found


def test_a_country_star_rule_fires_and_resolves_per_segment(engine: Engine, store_url: str, tmp_path: Path):
    write_reference_files(("fraud",), tmp_path / "reference", rows=2000)
    models = model_configs(["fraud"], str(tmp_path / "reference"))
    models["fraud"].update(window="10m", segments=["country"])
    config = config_from_mapping({"store": store_url, "models": models, "alerts": {
        "rules": RULES, "channels": {"retrain": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}}}},
        environ={})
    ingest_simulated_stream(engine, SCENARIO, ("fraud",), rate=20, minutes=90)

    compute_and_evaluate(engine, config, START + timedelta(minutes=1))  # the rules start watching
    # Minute 45: France fired at 10-20, Germany at 30-40; the other countries are calm.
    compute_and_evaluate(engine, config, START + timedelta(minutes=45))
    fired_fr, fired_de = (START + timedelta(minutes=10)).isoformat(), (START + timedelta(minutes=30)).isoformat()
    assert _alerts(engine, "country-drift") == {"country=FR": [("firing", fired_fr)],
                                                "country=DE": [("firing", fired_de)]}
    assert _alerts(engine, "german-drift") == {"country=DE": [("firing", fired_de)]}
    assert _alerts(engine, "model-drift") == {}  # the whole model only: no segment's alert

    # Minute 65: France resolved on its own (window 40-50); Germany still fires.
    compute_and_evaluate(engine, config, START + timedelta(minutes=65))
    assert _alerts(engine, "country-drift") == {"country=FR": [("resolved", fired_fr)],
                                                "country=DE": [("firing", fired_de)]}

    # Minute 85: Germany resolved too (window 70-80).
    compute_and_evaluate(engine, config, START + timedelta(minutes=85))
    assert _alerts(engine, "country-drift") == {"country=FR": [("resolved", fired_fr)],
                                                "country=DE": [("resolved", fired_de)]}

    # One firing and one resolved notification per segment, each naming its segment.
    with engine.connect() as connection:
        payloads = [Notification.from_dict(row.payload) for row in connection.execute(
            select(notifications).order_by(notifications.c.id))]
    assert sorted((n.segment, n.event) for n in payloads) == [
        ("country=DE", "firing"), ("country=DE", "resolved"), ("country=FR", "firing"), ("country=FR", "resolved")]
    german = next(n for n in payloads if n.segment == "country=DE")
    assert headline(german) == "fraud country=DE: dataset_drift_share > 0.3"
    assert ("Segment", "country=DE") in summary_fields(german)
    assert "segment=country%3DDE" in german.dashboard_url
