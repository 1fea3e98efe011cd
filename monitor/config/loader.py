"""Load ``driftwatch.yaml``: YAML with line numbers, ``${VAR}`` substitution,
``DRIFTWATCH_*`` environment overrides, then strict validation.

Every problem becomes one :class:`~monitor.errors.ConfigError` that names the key,
the file line and what to do; nothing starts with a bad config.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from monitor.config.models import DriftwatchConfig
from monitor.config.problems import KeyedValueError, did_you_mean
from monitor.errors import ConfigError

__all__ = ["load_config", "config_from_mapping", "no_config_message", "override_name", "resolve_config_path",
           "DEFAULT_CONFIG_FILE"]

DEFAULT_CONFIG_FILE = "driftwatch.yaml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ENV_PREFIX = "DRIFTWATCH_"
_NOT_OVERRIDES = {"DRIFTWATCH_CONFIG", "DRIFTWATCH_CACHE", "DRIFTWATCH_KAFKA_DIR", "DRIFTWATCH_PG_DIR"}

Path_ = tuple[str | int, ...]


def resolve_config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """``--config`` wins, then ``$DRIFTWATCH_CONFIG``, then ``./driftwatch.yaml`` if present."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get("DRIFTWATCH_CONFIG")
    if from_env:
        return Path(from_env)
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.exists() else None


def no_config_message() -> str:
    """Where a config was looked for, and how to make one."""
    here = Path.cwd() / DEFAULT_CONFIG_FILE
    return (f"no config file found: --config was not given, DRIFTWATCH_CONFIG is not set and there is no {here}. "
            "Write a commented starter with `driftwatch init --example` (creates ./driftwatch.yaml; "
            "`driftwatch init --example PATH` for another place), edit it, then run `driftwatch init` "
            "to create the store. (Or configure from the environment alone: set DRIFTWATCH_STORE and "
            "the other DRIFTWATCH_* variables.)")


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    require_file: bool = False,
) -> DriftwatchConfig:
    """Read, substitute, override and validate the configuration.

    With no file (none given, none in the environment, none in the working
    directory) the defaults apply, plus ``DRIFTWATCH_*`` overrides, unless
    ``require_file`` (the command line) and the environment names no store
    (``DRIFTWATCH_STORE``): then that is an error saying where it looked, so a
    command never creates the default ``driftwatch.db`` the user did not ask for.
    """
    env = os.environ if environ is None else environ
    resolved = resolve_config_path(path) if environ is None else (Path(path) if path else None)
    if resolved is None:
        if require_file and not env.get("DRIFTWATCH_STORE"):
            raise ConfigError(no_config_message())
        return config_from_mapping({}, environ=env, source="<defaults>", lines={})
    if not resolved.exists():
        raise ConfigError(f"config file {resolved} does not exist; write a starter with "
                          f"`driftwatch init --example {resolved}` (see README: Configuration) "
                          "or point --config / DRIFTWATCH_CONFIG at an existing file")
    text = resolved.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{resolved}:{mark.line + 1}" if mark is not None else str(resolved)
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)}); fix the syntax") from exc
    if root is None:
        return config_from_mapping({}, environ=env, source=str(resolved), lines={})
    lines: dict[Path_, int] = {}
    data = _to_python(root, (), lines)
    if not isinstance(data, dict):
        raise ConfigError(f"{resolved}:1: the config must be a mapping of sections (store, kafka, models, alerts)")
    return config_from_mapping(data, environ=env, source=str(resolved), lines=lines)


def config_from_mapping(
    data: Mapping[str, Any],
    *,
    environ: Mapping[str, str],
    source: str = "<mapping>",
    lines: Mapping[Path_, int] | None = None,
) -> DriftwatchConfig:
    line_of = dict(lines or {})
    substituted = _substitute(dict(data), (), environ, source, line_of)
    overrides = _apply_env_overrides(substituted, environ)
    try:
        return DriftwatchConfig.model_validate(substituted)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, line_of, overrides)) from None


def _to_python(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in result:
                raise ConfigError(f"line {key_node.start_mark.line + 1}: key {key!r} appears twice; keep one")
            result[key] = _to_python(value_node, (*path, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, index), lines) for index, item in enumerate(node.value)]
    loader = yaml.SafeLoader("")
    return loader.construct_object(node, deep=True)


def _substitute(value: Any, path: Path_, env: Mapping[str, str], source: str, lines: Mapping[Path_, int]) -> Any:
    if isinstance(value, dict):
        return {key: _substitute(item, (*path, key), env, source, lines) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, (*path, index), env, source, lines) for index, item in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(
            f"{_where(source, lines, path)}: {_dotted(path)} uses ${{{name}}} but the environment variable "
            f"{name} is not set; export it or write ${{{name}:-default}}"
        )

    return _VAR.sub(replace, value)


def override_name(*path: str) -> str:
    """The environment variable that overrides a config key.

    >>> override_name("dashboard", "auto_refresh")
    'DRIFTWATCH_DASHBOARD__AUTO_REFRESH'
    """
    return _ENV_PREFIX + "__".join(part.upper() for part in path)


def _apply_env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> dict[Path_, str]:
    """``DRIFTWATCH_STORE`` → store; ``DRIFTWATCH_KAFKA__BOOTSTRAP_SERVERS`` → kafka.bootstrap_servers.

    Returns which variable set each overridden key, so an error names the variable.
    """
    applied: dict[Path_, str] = {}
    for name, raw in env.items():
        if not name.startswith(_ENV_PREFIX) or name in _NOT_OVERRIDES:
            continue
        parts = [part.lower() for part in name[len(_ENV_PREFIX):].split("__") if part]
        if not parts or parts[0] not in DriftwatchConfig.model_fields:
            continue
        target: dict[str, Any] = data
        for part in parts[:-1]:
            nested = target.setdefault(part, {})
            if not isinstance(nested, dict):
                break
            target = nested
        else:
            target[parts[-1]] = raw  # pydantic coerces "5000" / "true" to the field type
            applied[tuple(parts)] = name
    return applied


def _dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _where(source: str, lines: Mapping[Path_, int], path: tuple[Any, ...]) -> str:
    probe = tuple(path)
    while probe and probe not in lines:
        probe = probe[:-1]
    line = lines.get(probe)
    return f"{source}:{line}" if line else source


def _keys_at(path: tuple[Any, ...]) -> list[str]:
    """The keys allowed in the mapping at ``path`` (empty when that is not one model)."""
    annotation: Any = DriftwatchConfig
    for part in path:
        annotation = _single(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {field.alias or name: field for name, field in annotation.model_fields.items()}
            if part not in fields:
                return []
            annotation = fields[part].annotation
        elif get_origin(annotation) in (dict, list):
            annotation = get_args(annotation)[-1]
        else:
            return []
    annotation = _single(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [field.alias or name for name, field in annotation.model_fields.items()]
    return []


def _single(annotation: Any) -> Any:
    """``X | None`` → ``X``; a union of several models stays ambiguous."""
    if get_origin(annotation) in (Union, UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        return options[0] if len(options) == 1 else None
    return annotation


def _env_source(loc: tuple[Any, ...], overrides: Mapping[Path_, str]) -> str | None:
    """The environment variable that set the key at ``loc`` (or a section holding it)."""
    for length in range(len(loc), 0, -1):
        name = overrides.get(tuple(loc[:length]))
        if name is not None:
            return name
    return None


def _describe(
    exc: ValidationError, source: str, lines: Mapping[Path_, int], overrides: Mapping[Path_, str] | None = None
) -> str:
    problems = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if part not in ("slack", "email", "webhook")
                    and not (isinstance(part, str) and part.startswith("function-")))
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, KeyedValueError):
            loc = (*loc, *cause.path)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = (f"unknown key {loc[-1]!r}{did_you_mean(loc[-1], _keys_at(loc[:-1]))}; "
                       "remove it or check its spelling (see README: Configuration)")
        elif error["type"] == "missing":
            message = "is required but missing; add it"
        elif error["type"] == "union_tag_invalid":
            message = "channel type must be one of slack, email, webhook"
        variable = _env_source(loc, overrides or {})
        where = f"environment variable {variable}" if variable else _where(source, lines, loc)
        # Cross-reference messages name their key already (by rule name, not index).
        key = "" if loc and message.startswith(f"{loc[0]}.") else f"{_dotted(loc)}: "
        problems.append(f"{where}: {key}{message}")
    return "invalid configuration:\n  " + "\n  ".join(problems)
