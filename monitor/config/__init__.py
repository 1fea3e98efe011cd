"""Configuration: ``driftwatch.yaml`` loaded, substituted and strictly validated."""

from monitor.config.conditions import Condition, parse_condition
from monitor.config.durations import parse_duration
from monitor.config.loader import load_config, override_name
from monitor.config.models import DriftwatchConfig, ModelConfig

__all__ = ["Condition", "DriftwatchConfig", "ModelConfig", "load_config", "override_name", "parse_condition",
           "parse_duration"]
