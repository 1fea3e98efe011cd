"""Simulated models: how features, predictions and true outcomes are generated.

Pure: a seeded ``random.Random`` and the scenario's active events in, message
dicts out. ``fraud`` is a binary classifier with scores, ``demand`` a regression
model and ``intent`` a multiclass classifier.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from monitor.errors import ConfigError
from monitor.metrics.categories import category_key

__all__ = ["SimulatedModel", "Sample", "MODELS", "model_configs"]

COUNTRIES = ["DE", "FR", "US", "GB", "ES"]
COUNTRY_WEIGHTS = [0.3, 0.2, 0.3, 0.15, 0.05]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
INTENTS = ["billing", "support", "sales"]


@dataclass
class Sample:
    features: dict[str, Any]
    prediction: int | float | str
    label: int | float | str
    score: float | None = None
    probabilities: dict[str, float] | None = None


@dataclass
class Effects:
    """What the scenario changes for one sample."""

    drift_features: dict[str, float] = field(default_factory=dict)  # feature → shift
    # (column, value, feature, shift): the feature drifts in rows whose column has that value only
    segment_drift: list[tuple[str, str, str, float]] = field(default_factory=list)

    def segment_shifts(self, features: dict[str, Any]) -> dict[str, float]:
        """The shifts of the segment drifts that apply to a row with these ``features``.

        >>> Effects(segment_drift=[("country", "DE", "amount", 2.0)]).segment_shifts({"country": "DE"})
        {'amount': 2.0}
        >>> Effects(segment_drift=[("is_new_device", "true", "amount", 1.0)]).segment_shifts({"is_new_device": False})
        {}
        """
        shifts: dict[str, float] = {}
        for column, value, feature, shift in self.segment_drift:
            if column in features and category_key(features[column]) == value:
                shifts[feature] = shifts.get(feature, 0.0) + shift
        return shifts
    concept_drift: bool = False
    missing: dict[str, float] = field(default_factory=dict)  # feature → share


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _maybe_missing(features: dict[str, Any], effects: Effects, rng: random.Random) -> dict[str, Any]:
    for name, share in effects.missing.items():
        if name in features and rng.random() < share:
            features[name] = None
    return features


class SimulatedModel:
    name = ""
    task = ""
    latency_median_ms = 20.0
    drift_features: tuple[str, ...] = ()  # the features covariate drift can move
    segment_columns: tuple[str, ...] = ()  # the columns a drift in one segment can be limited by

    def feature_names(self) -> list[str]:
        return list(self.config()["features"])

    def sample(self, rng: random.Random, effects: Effects) -> Sample:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        raise NotImplementedError


class FraudModel(SimulatedModel):
    name = "fraud"
    task = "binary_classification"
    latency_median_ms = 25.0
    drift_features = ("amount", "country", "account_age_days")
    segment_columns = ("country", "is_new_device")

    def sample(self, rng: random.Random, effects: Effects) -> Sample:
        shift = effects.drift_features
        amount = rng.lognormvariate(3.5 + shift.get("amount", 0.0), 1.0)
        country_weights = COUNTRY_WEIGHTS
        if "country" in shift:  # move probability mass towards the rare countries
            moved = min(0.9, 0.3 * shift["country"])
            country_weights = [w * (1 - moved) for w in COUNTRY_WEIGHTS[:3]] + [
                COUNTRY_WEIGHTS[3] + moved * 0.6 * sum(COUNTRY_WEIGHTS[:3]),
                COUNTRY_WEIGHTS[4] + moved * 0.4 * sum(COUNTRY_WEIGHTS[:3]),
            ]
        country = rng.choices(COUNTRIES, country_weights)[0]
        age = max(0.0, rng.gauss(400 + 100 * shift.get("account_age_days", 0.0), 250))
        new_device = rng.random() < 0.15
        hour = rng.randint(0, 23)
        logit = -3.0 + 0.6 * math.log1p(amount) / 2 + (1.2 if new_device else 0) - age / 600 + (
            0.8 if country in ("GB", "ES") else 0)
        score = _sigmoid(logit + rng.gauss(0, 0.3))
        truth_logit = -logit if effects.concept_drift else logit
        label = int(rng.random() < _sigmoid(truth_logit * 1.6))
        # A drift in one segment moves that segment's rows after the draws (same random sequence).
        local = effects.segment_shifts({"country": country, "is_new_device": new_device})
        amount *= math.exp(local.get("amount", 0.0))
        age += 100 * local.get("account_age_days", 0.0)
        features = {"amount": round(amount, 2), "country": country, "account_age_days": round(age, 1),
                    "is_new_device": new_device, "hour": hour}
        return Sample(features=_maybe_missing(features, effects, rng), prediction=int(score >= 0.5),
                      label=label, score=round(score, 6))

    def config(self) -> dict[str, Any]:
        return {
            "task": self.task, "positive_label": 1, "window": "1h",
            "features": {
                "amount": {"type": "numeric", "min": 0},
                "country": {"type": "categorical", "values": COUNTRIES},
                "account_age_days": {"type": "numeric", "min": 0},
                "is_new_device": {"type": "categorical"},
                "hour": {"type": "numeric", "min": 0, "max": 23},
            },
        }


class DemandModel(SimulatedModel):
    name = "demand"
    task = "regression"
    latency_median_ms = 12.0
    drift_features = ("temperature", "price")

    def sample(self, rng: random.Random, effects: Effects) -> Sample:
        shift = effects.drift_features
        temperature = rng.gauss(18 + 8 * shift.get("temperature", 0.0), 6)
        day = rng.choice(DAYS)
        price = max(0.5, rng.gauss(10 + 3 * shift.get("price", 0.0), 2))
        promo = rng.random() < 0.2
        expected = 100 + 2.5 * temperature - 4 * price + (25 if promo else 0) + (15 if day in ("sat", "sun") else 0)
        truth = expected + rng.gauss(0, 6)
        if effects.concept_drift:  # customers stop reacting to promotions and heat the same way
            truth = 100 - 1.5 * temperature - 4 * price + (15 if day in ("sat", "sun") else 0) + rng.gauss(0, 6)
        features = {"temperature": round(temperature, 2), "day_of_week": day, "price": round(price, 2),
                    "promo": promo}
        return Sample(features=_maybe_missing(features, effects, rng), prediction=round(expected, 3),
                      label=round(truth, 3))

    def config(self) -> dict[str, Any]:
        return {
            "task": self.task, "window": "1h",
            "features": {
                "temperature": {"type": "numeric", "min": -30, "max": 50},
                "day_of_week": {"type": "categorical", "values": DAYS},
                "price": {"type": "numeric", "min": 0},
                "promo": {"type": "categorical"},
            },
        }


class IntentModel(SimulatedModel):
    name = "intent"
    task = "multiclass_classification"
    latency_median_ms = 40.0
    drift_features = ("words",)

    def sample(self, rng: random.Random, effects: Effects) -> Sample:
        shift = effects.drift_features
        words = max(1, int(rng.gauss(20 + 10 * shift.get("words", 0.0), 8)))
        channel = rng.choice(["web", "app", "email"])
        weights = [0.5, 0.3, 0.2] if channel != "email" else [0.3, 0.5, 0.2]
        truth = rng.choices(INTENTS, weights)[0]
        correct = rng.random() < (0.55 if effects.concept_drift else 0.85)
        predicted = truth if correct else rng.choice([i for i in INTENTS if i != truth])
        raw = {intent: rng.random() * 0.3 for intent in INTENTS}
        raw[predicted] += 0.7
        total = sum(raw.values())
        features = {"words": words, "channel": channel}
        return Sample(features=_maybe_missing(features, effects, rng), prediction=predicted, label=truth,
                      probabilities={k: round(v / total, 4) for k, v in raw.items()})

    def config(self) -> dict[str, Any]:
        return {
            "task": self.task, "window": "1h",
            "features": {"words": {"type": "numeric", "min": 1},
                         "channel": {"type": "categorical", "values": ["web", "app", "email"]}},
        }


MODELS: dict[str, SimulatedModel] = {model.name: model for model in (FraudModel(), DemandModel(), IntentModel())}


def check_scenario(events: list[Any], models: tuple[str, ...]) -> None:
    """Refuse a scenario event the simulator would silently ignore: a model not in the
    stream, or a feature no targeted model has (for covariate drift: can move)."""
    for number, event in enumerate(events, start=1):
        where = f"scenario event {number} ({event.kind})"
        if event.model is not None and event.model not in models:
            raise ConfigError(f"{where}: model {event.model!r} is not simulated (streaming: {', '.join(models)}); "
                              "fix the name or add it with --models")
        if event.kind not in ("covariate_drift", "missing_values"):
            continue
        allowed: list[str] = []
        for name in [event.model] if event.model is not None else models:
            model = MODELS[name]
            allowed += model.drift_features if event.kind == "covariate_drift" else model.feature_names()
        if event.segment is not None:
            _check_segment_event(where, event, models)
        unknown = [feature for feature in event.features if feature not in allowed]
        if unknown or not event.features:
            verb = "drift" if event.kind == "covariate_drift" else "leave out"
            raise ConfigError(f"{where}: features {unknown or '[]'} are not ones the simulator can {verb} "
                              f"for {event.model or ', '.join(models)}; use some of: {', '.join(allowed)}")


def _check_segment_event(where: str, event: Any, models: tuple[str, ...]) -> None:
    column = event.segment_key[0]
    for name in [event.model] if event.model is not None else models:
        columns = MODELS[name].segment_columns
        if column not in columns:
            raise ConfigError(f"{where}: the simulator cannot limit a drift of model {name!r} to segments of "
                              f"{column!r}; use {' or '.join(columns) or 'another model (fraud)'}")


def model_configs(names: list[str], reference_dir: str) -> dict[str, Any]:
    """The ``models:`` config section for the simulated models, with their reference files."""
    return {name: {**MODELS[name].config(), "reference": {"file": f"{reference_dir}/{name}_reference.parquet"}}
            for name in names}
