"""The Databricks bundle (databricks.yml + resources/*.yml): schema, entry points, files, variables.

Databricks is not reachable here, so `databricks bundle validate` cannot run; these tests do what
it does offline. The bundle, with its includes, is validated against the Databricks CLI's
published JSON schema (vendored in tests/fixtures, checked byte-identical against
../shared/reference when that exists); every python_wheel_task's command line is parsed by the
real `riskstream` CLI (click), per target, with ${bundle.target} and ${var.*} substituted; every
file the bundle refers to must exist or be the artifact's build output; every variable used by a
target must have a value there; every task's rendered command line loads its settings, and the
schemas, volumes and secret scope they name are the ones the bundle declares.
The last tests copy the bundle, break it in one way each, and assert the exact error reported.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
import subprocess
import tomllib
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
import typer
import yaml
from typer.core import TyperGroup
from typer.main import get_command

from riskstream.analytics import NOTEBOOK_WIDGETS, notebook_settings
from riskstream.config import Settings, load_settings
from riskstream.errors import ConfigError
from riskstream.tables import Catalog

LAYERS: tuple[Literal["bronze", "silver", "gold", "ops", "reference"], ...] = (
    "bronze",
    "silver",
    "gold",
    "ops",
    "reference",
)

REPO = Path(__file__).resolve().parent.parent
VENDORED_SCHEMA = REPO / "tests" / "fixtures" / "databricks-bundle-schema.json"
SHARED_SCHEMA = REPO.parent / "shared" / "reference" / "databricks-bundle-schema.json"
BROKEN = REPO / "tests" / "fixtures" / "bundle"
DEPLOYED_TARGETS = ("dev", "prod")
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)+)\}")

# --------------------------------------------------------------------------------------------
# Loading and checking a bundle (used on the real one and on broken copies)
# --------------------------------------------------------------------------------------------


def _python_pattern(pattern: str) -> str:
    """The schema's ECMA-262 patterns use \\p{L} (letter) and \\p{N} (number), which Python's re lacks.

    Inside a class ``[\\p{L}\\p{N}]`` is "a word character but not underscore"; alone ``\\p{L}``
    is "a word character that is not a digit or underscore" and ``\\p{N}`` a digit.
    """
    translated = pattern.replace(r"[\p{L}\p{N}]", r"[^\W_]").replace(r"\p{L}", r"[^\W\d_]").replace(r"\p{N}", r"\d")
    if r"\p{" in translated:
        raise ValueError(f"unsupported Unicode property in schema pattern {pattern!r}")
    return translated


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(_python_pattern(pattern))


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


BundleValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern})


@functools.cache
def bundle_validator() -> Any:
    return BundleValidator(json.loads(VENDORED_SCHEMA.read_text(encoding="utf-8")))


def included_files(root: Path, config: dict[str, Any]) -> list[Path]:
    files: list[Path] = []
    for pattern in config.get("include", []):
        files.extend(sorted(root.glob(pattern)))
    return files


def _merge(into: dict[str, Any], other: dict[str, Any], where: str) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, f"{where}.{key}")
        elif key in into:
            raise ValueError(f"{where}.{key} is defined twice")
        else:
            into[key] = copy.deepcopy(value)


def load_bundle(root: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The merged configuration, and each file's own document by path relative to ``root``."""
    documents = {"databricks.yml": yaml.safe_load((root / "databricks.yml").read_text(encoding="utf-8"))}
    for path in included_files(root, documents["databricks.yml"]):
        documents[str(path.relative_to(root))] = yaml.safe_load(path.read_text(encoding="utf-8"))
    merged: dict[str, Any] = {}
    for name, document in documents.items():
        _merge(merged, document, name)
    return merged, documents


def _leaf_errors(error: Any) -> Iterator[Any]:
    """Descend through oneOf/anyOf into the one alternative the instance was meant for.

    The schema wraps most objects as ``oneOf: [object, "${var...}" string]``; an error deep inside
    a job would otherwise surface as "the whole job is not valid under any of the given schemas".
    Alternatives that fail on the instance's own type are set aside; if exactly one remains, its
    errors are reported instead.
    """
    if error.validator in ("oneOf", "anyOf") and error.context:
        branches: dict[Any, list[Any]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        viable = [
            subs
            for subs in branches.values()
            if not any(sub.validator == "type" and not sub.relative_path for sub in subs)
        ]
        if len(viable) == 1:
            for sub in viable[0]:
                yield from _leaf_errors(sub)
            return
    yield error


def _message(error: Any) -> str:
    if error.validator in ("oneOf", "anyOf") and isinstance(error.instance, dict | list):
        return "is not valid under any of the given schemas"
    return str(error.message)


def schema_errors(documents: dict[str, dict[str, Any]]) -> list[str]:
    """Each file validated alone (as an editor does) and all of them merged (as the CLI does)."""
    merged: dict[str, Any] = {}
    for name, document in documents.items():
        _merge(merged, document, name)
    errors = []
    for name, document in [*documents.items(), ("(merged)", merged)]:
        for top in bundle_validator().iter_errors(document):
            for error in _leaf_errors(top):
                location = "/".join(str(part) for part in error.absolute_path)
                errors.append(f"{name}: {location}: {_message(error)}")
    return errors


def jobs(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(config.get("resources", {}).get("jobs", {}))


def target_view(config: dict[str, Any], target: str) -> dict[str, Any]:
    """What the CLI deploys for ``target``: the root without `targets`, overridden by the target's block."""
    view = {key: copy.deepcopy(value) for key, value in config.items() if key != "targets"}
    for key, value in (config.get("targets", {}).get(target) or {}).items():
        if key == "variables":
            continue
        if isinstance(value, dict) and isinstance(view.get(key), dict):
            view[key] = {**view[key], **copy.deepcopy(value)}
        else:
            view[key] = copy.deepcopy(value)
    return view


def variable_values(config: dict[str, Any], target: str) -> dict[str, Any]:
    """Each variable's value in ``target``; a ``lookup`` variable (resolved by the CLI by name) renders
    as ``<lookup warehouse:NAME>``."""
    values = {name: spec["default"] for name, spec in config.get("variables", {}).items() if "default" in spec}
    for name, spec in config.get("variables", {}).items():
        for kind, looked_up in (spec.get("lookup") or {}).items():
            values.setdefault(name, f"<lookup {kind}:{looked_up}>")
    values.update((config.get("targets", {}).get(target) or {}).get("variables", {}) or {})
    return values


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)
    elif isinstance(node, str):
        yield from _REFERENCE.findall(node)


def variable_errors(config: dict[str, Any]) -> list[str]:
    """Every ${var.x} a target deploys is declared and has a value there; no value for an undeclared one."""
    declared = set(config.get("variables", {}))
    errors = []
    used: set[str] = set()
    for target in config.get("targets", {}):
        values = variable_values(config, target)
        for name in sorted(set(values) - declared):
            errors.append(f"targets.{target}.variables.{name} is not declared under variables")
        for reference in sorted(set(references(target_view(config, target)))):
            if not reference.startswith("var."):
                continue
            name = reference.removeprefix("var.")
            used.add(name)
            if name not in declared:
                errors.append(f"target {target}: ${{{reference}}} is not declared under variables")
            elif name not in values:
                errors.append(f"target {target}: variable {name} has no default and no value for {target}")
    for name in sorted(declared - used):
        errors.append(f"variable {name} is declared but never used")
    return errors


DEFAULT_USER = "alice"
"""The deploying user's short name ``${workspace.current_user.short_name}`` renders to."""


def _lookup(node: Any, path: list[str]) -> Any:
    for part in path:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _substitute(
    text: str, target: str, values: dict[str, Any], user: str = DEFAULT_USER, view: dict[str, Any] | None = None
) -> str:
    """``text`` with the bundle references the CLI resolves at deploy time: the target, the user's
    short name, variables (whose values may hold references themselves) and ``${resources...}``."""

    def replace(match: re.Match[str]) -> str:
        reference = match.group(1)
        if reference == "bundle.target":
            return target
        if reference == "workspace.current_user.short_name":
            return user
        if reference.startswith("var.") and reference.removeprefix("var.") in values:
            return _substitute(str(values[reference.removeprefix("var.")]), target, values, user, view)
        if reference.startswith("resources.") and view is not None:
            try:
                found = _lookup(view, reference.split("."))
            except (KeyError, IndexError, ValueError):
                raise KeyError(f"${{{reference}}} names no resource field") from None
            return _substitute(str(found), target, values, user, view)
        if reference.startswith(("bundle.", "workspace.")):
            return match.group(0)  # resolved by the CLI (bundle name, workspace paths); no task reads them
        raise KeyError(f"${{{reference}}} has no value for target {target}")

    return _REFERENCE.sub(replace, text)


def render(
    config: dict[str, Any], target: str, user: str = DEFAULT_USER, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the CLI deploys for ``target`` when ``user`` deploys it (with ``variables`` set as by
    ``--var``), every reference resolved."""
    view = target_view(config, target)
    values = {**variable_values(config, target), **(variables or {})}

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        if isinstance(node, str):
            return _substitute(node, target, values, user, view)
        return node

    rendered: dict[str, Any] = resolve(view)
    return rendered


class CommandRejected(Exception):
    """A task's command line names a command the CLI does not have."""


def parse_cli(arguments: list[str]) -> dict[str, Any]:
    """Parse ``arguments`` with the real `riskstream` command tree, without running anything.

    Returns the leaf command's parameters. Raises CommandRejected for an unknown command and the
    CLI's own usage errors (typer.TyperException: no such option, bad value, missing argument).
    """
    from riskstream import cli

    command: Any = get_command(cli.app)
    context = typer.Context(command, info_name="riskstream")
    remaining = list(arguments)
    name = "riskstream"
    while isinstance(command, TyperGroup):
        if not remaining:
            raise CommandRejected(f"{context.command_path} needs a command")
        name = remaining.pop(0)
        sub = command.get_command(context, name)
        if sub is None:
            raise CommandRejected(f"no such command {context.command_path} {name}")
        command = sub
        if isinstance(command, TyperGroup):
            context = typer.Context(command, info_name=name, parent=context)
    leaf = command.make_context(name, remaining, parent=context)
    return dict(leaf.params)


def entry_point_errors(config: dict[str, Any], pyproject: dict[str, Any]) -> list[str]:
    """Each python_wheel_task names this distribution and a console script whose CLI accepts its parameters."""
    scripts = pyproject["project"].get("scripts", {})
    errors = []
    for job_key, job in jobs(config).items():
        for task in job.get("tasks", []):
            wheel_task = task.get("python_wheel_task")
            if not wheel_task:
                continue
            where = f"{job_key}.{task.get('task_key', '(no task_key)')}"
            if wheel_task["package_name"] != pyproject["project"]["name"]:
                errors.append(f"{where}: package_name {wheel_task['package_name']!r} is not this wheel")
            if scripts.get(wheel_task["entry_point"]) != "riskstream.cli:main":
                errors.append(f"{where}: entry point {wheel_task['entry_point']!r} is not in [project.scripts]")
                continue
            for target in config.get("targets", {}):
                values = variable_values(config, target)
                try:
                    view = target_view(config, target)
                    arguments = [
                        _substitute(str(part), target, values, view=view) for part in wheel_task.get("parameters", [])
                    ]
                    parse_cli(arguments)
                except (KeyError, CommandRejected, typer.TyperException) as error:
                    message = error.format_message() if hasattr(error, "format_message") else str(error.args[0])
                    errors.append(f"{where} ({target}): {message}")
    return errors


def _artifact_outputs(root: Path, config: dict[str, Any]) -> list[Path]:
    return [(root / artifact.get("path", ".")).resolve() / "dist" for artifact in config.get("artifacts", {}).values()]


def file_errors(root: Path, config: dict[str, Any], documents: dict[str, dict[str, Any]]) -> list[str]:
    """Includes match files; artifacts are buildable projects; wheels are the artifact's dist/ output."""
    errors = []
    for pattern in config.get("include", []):
        if not list(root.glob(pattern)):
            errors.append(f"include {pattern!r} matches no file")
    for name, artifact in config.get("artifacts", {}).items():
        if not (root / artifact.get("path", ".") / "pyproject.toml").is_file():
            errors.append(f"artifact {name}: {artifact.get('path', '.')}/pyproject.toml not found")
    outputs = _artifact_outputs(root, config)
    for name, document in documents.items():
        base = (root / name).parent
        for kind in ("dashboards", "alerts"):
            for key, item in ((document.get("resources") or {}).get(kind) or {}).items():
                path = item.get("file_path")
                if path and not (base / path).is_file():
                    errors.append(f"{name}: {kind}.{key}: {path} not found")
        for job_key, job in ((document.get("resources") or {}).get("jobs") or {}).items():
            wheels = [
                library["whl"]
                for task in job.get("tasks", [])
                for library in task.get("libraries", [])
                if "whl" in library
            ]
            wheels += [
                dependency
                for environment in job.get("environments", [])
                for dependency in environment.get("spec", {}).get("dependencies", [])
                if dependency.startswith((".", "/"))
            ]
            for wheel in wheels:
                resolved = (base / wheel).resolve()
                if resolved.parent not in outputs or not resolved.name.endswith(".whl"):
                    errors.append(f"{name}: {job_key}: {wheel} is not a wheel the bundle's artifacts build")
            jars = [
                library["jar"]
                for task in job.get("tasks", [])
                for library in task.get("libraries", [])
                if "jar" in library
            ]
            for jar in jars:
                if (base / jar).resolve() != (root / "riskstream" / "jars" / "riskstream-lifecycle.jar").resolve():
                    errors.append(f"{name}: {job_key}: {jar} is not the lifecycle jar `make wheel` builds")
            for task in job.get("tasks", []):
                for kind, key in (("notebook_task", "notebook_path"), ("spark_python_task", "python_file")):
                    path = (task.get(kind) or {}).get(key)
                    if path and not (base / path).exists():
                        errors.append(f"{name}: {job_key}.{task.get('task_key')}: {path} not found")
    return errors


def task_settings(arguments: list[str]) -> Settings:
    """The settings a rendered task's command line loads: its target, conf profile and ``--set`` values."""
    params = parse_cli(arguments)
    return load_settings(params["target"], conf=params.get("conf"), overrides=params.get("overrides") or ())


def rendered_tasks(config: dict[str, Any], target: str, user: str = DEFAULT_USER) -> dict[str, list[str]]:
    """``job.task`` -> its rendered python_wheel_task parameters, for ``target`` deployed by ``user``."""
    return {
        f"{job_key}.{task.get('task_key')}": [str(part) for part in task["python_wheel_task"].get("parameters", [])]
        for job_key, job in jobs(render(config, target, user)).items()
        for task in job.get("tasks", [])
        if "python_wheel_task" in task
    }


def deployment_footprint(config: dict[str, Any], target: str, user: str = DEFAULT_USER) -> dict[str, set[str]]:
    """Where ``target``'s tasks keep their data, as their settings resolve it: UC schemas, checkpoint
    folders, secret scopes and reference landing folders."""
    footprint: dict[str, set[str]] = {"schemas": set(), "checkpoints": set(), "secret_scopes": set(), "landing": set()}
    for arguments in rendered_tasks(config, target, user).values():
        try:
            parse_cli(arguments)
        except (CommandRejected, typer.TyperException):
            continue  # entry_point_errors reports it
        settings = task_settings(arguments)
        catalog = Catalog(settings)
        footprint["schemas"] |= {f"{settings.storage.catalog}.{catalog.schema_for(layer)}" for layer in LAYERS}
        footprint["checkpoints"].add(catalog.checkpoint(""))
        footprint["secret_scopes"].add(str(settings.secret_scope))
        source = parse_cli(arguments).get("source")
        if source:
            footprint["landing"].add(str(source))
    return footprint


def settings_errors(config: dict[str, Any]) -> list[str]:
    """Every task's settings load from its rendered command line, and what they name the bundle declares."""
    errors = []
    for target in config.get("targets", {}):
        try:
            rendered = render(config, target)
        except KeyError:
            continue  # variable_errors reports it
        resources = rendered.get("resources") or {}
        schemas = {f"{item['catalog_name']}.{item['name']}" for item in (resources.get("schemas") or {}).values()}
        volumes = {
            f"/Volumes/{item['catalog_name']}/{item['schema_name']}/{item['name']}/"
            for item in (resources.get("volumes") or {}).values()
        }
        scopes = {item["name"] for item in (resources.get("secret_scopes") or {}).values()}
        try:
            footprint = deployment_footprint(config, target)  # render succeeded, so this renders too
        except ConfigError as error:
            errors.append(f"target {target}: {error}")
            continue
        for schema in sorted(footprint["schemas"] - schemas):
            errors.append(f"target {target}: schema {schema} is used but not declared under resources.schemas")
        for folder in sorted(footprint["checkpoints"] | footprint["landing"]):
            if not any(folder.rstrip("/").startswith(volume.rstrip("/")) for volume in volumes):
                errors.append(f"target {target}: {folder} is on no volume declared under resources.volumes")
        for scope in sorted(footprint["secret_scopes"] - scopes):
            errors.append(f"target {target}: secret scope {scope} is not declared under resources.secret_scopes")
    return errors


def deployment_errors(config: dict[str, Any]) -> list[str]:
    """What the issue asks of the targets and jobs, beyond what the schema can say."""
    errors = []
    for name, artifact in (config.get("artifacts") or {}).items():
        if artifact.get("build") != "uv build --wheel":
            errors.append(f"artifacts.{name}: build with `uv build --wheel` (no make on the deploying machine)")
    targets = config.get("targets", {})
    dev, prod = targets.get("dev") or {}, targets.get("prod") or {}
    if dev.get("mode") != "development" or dev.get("default") is not True:
        errors.append("targets.dev must be the default target in mode: development")
    if (dev.get("presets") or {}).get("trigger_pause_status") != "PAUSED":
        errors.append("targets.dev must pause schedules (presets.trigger_pause_status: PAUSED)")
    if prod.get("mode") != "production" or "service_principal_name" not in (prod.get("run_as") or {}):
        errors.append("targets.prod must be mode: production with run_as a service principal")
    prod_levels = {(entry.get("level"), entry.get("group_name")) for entry in prod.get("permissions", [])}
    for level, group in (("CAN_VIEW", "${var.viewers_group}"), ("CAN_MANAGE_RUN", "${var.sre_group}")):
        if (level, group) not in prod_levels:
            errors.append(f"targets.prod.permissions lacks {level} for {group}")
    for job_key, job in jobs(config).items():
        if not (job.get("email_notifications") or {}).get("on_failure"):
            errors.append(f"{job_key}: no email_notifications.on_failure")
        component = (job.get("tags") or {}).get("riskstream_component")
        if component == "streaming":
            continuous = job.get("continuous") or {}
            if job.get("schedule") or "pause_status" not in continuous:
                errors.append(f"{job_key}: the streaming job is continuous, switched by its pause_status")
            if continuous.get("task_retry_mode") != "ON_FAILURE":
                errors.append(f"{job_key}: a failed streaming task is retried while the others run (ON_FAILURE)")
            for task in job.get("tasks", []):
                policy = sorted({"max_retries", "min_retry_interval_millis", "retry_on_timeout"} & set(task))
                if policy:
                    errors.append(
                        f"{job_key}.{task['task_key']}: a continuous job's task takes no retry policy {policy}"
                    )
            for cluster in job.get("job_clusters", []):
                if cluster["new_cluster"].get("spark_version") != "17.3.x-scala2.13":
                    errors.append(f"{job_key}: job cluster {cluster['job_cluster_key']} is not Runtime 17.3 LTS")
        elif component in ("sync", "reference", "risk", "maintenance"):
            if not job.get("schedule"):
                errors.append(f"{job_key}: a scheduled workflow without a schedule")
            if component == "sync" and job.get("max_concurrent_runs") != 1:
                errors.append(f"{job_key}: the sync must run one at a time (max_concurrent_runs: 1)")
            if not (job.get("notification_settings") or {}).get("no_alert_for_skipped_runs"):
                errors.append(
                    f"{job_key}: a skipped run must not mail (notification_settings.no_alert_for_skipped_runs)"
                )
        elif component == "notebooks":
            if job.get("schedule") or job.get("continuous"):
                errors.append(f"{job_key}: the notebooks job runs on demand")
            names = {parameter.get("name") for parameter in job.get("parameters") or []}
            if names != set(NOTEBOOK_WIDGETS):
                errors.append(
                    f"{job_key}: job parameters {sorted(names)} are not the notebooks' {list(NOTEBOOK_WIDGETS)}"
                )
        else:
            errors.append(f"{job_key}: tag riskstream_component {component!r} is not one ops knows")
    return errors


def all_errors(root: Path) -> list[str]:
    config, documents = load_bundle(root)
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    return [
        *schema_errors(documents),
        *entry_point_errors(config, pyproject),
        *file_errors(root, config, documents),
        *variable_errors(config),
        *settings_errors(config),
        *deployment_errors(config),
    ]


# --------------------------------------------------------------------------------------------
# The real bundle
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    return load_bundle(REPO)


def test_vendored_schema_is_the_published_one() -> None:
    """In CI (shared/ beside the repo) the vendored copy must be byte-identical to the reference."""
    vendored = VENDORED_SCHEMA.read_bytes()
    if SHARED_SCHEMA.exists():
        assert vendored == SHARED_SCHEMA.read_bytes()
    schema = json.loads(vendored)
    assert sorted(schema["properties"]) == sorted(
        [
            *("artifacts", "bundle", "environments", "experimental", "include", "permissions", "presets", "python"),
            *("resources", "run_as", "scripts", "sync", "targets", "variables", "workspace"),
        ]
    )


def test_includes_are_one_job_per_file_and_the_environment(
    bundle: tuple[dict[str, Any], dict[str, dict[str, Any]]],
) -> None:
    _, documents = bundle
    resources = {name: document["resources"] for name, document in documents.items() if name != "databricks.yml"}
    assert {name: {kind: list(items) for kind, items in value.items()} for name, value in resources.items()} == {
        "resources/environment.yml": {
            "schemas": ["bronze", "silver", "gold", "ops", "reference"],
            "volumes": ["checkpoints", "reference_landing"],
            "secret_scopes": ["riskstream"],
        },
        "resources/analyst_notebooks.job.yml": {"jobs": ["riskstream_notebooks"]},
        "resources/limit_breach.alert.yml": {"alerts": ["riskstream_limit_breach"]},
        "resources/reference_refresh.job.yml": {"jobs": ["riskstream_reference_refresh"]},
        "resources/risk_factors.job.yml": {"jobs": ["riskstream_risk_factors"]},
        "resources/risk_stress.job.yml": {"jobs": ["riskstream_risk_stress"]},
        "resources/var_backtest.job.yml": {"jobs": ["riskstream_var_backtest"]},
        "resources/riskstream_risk.dashboard.yml": {"dashboards": ["riskstream_risk"]},
        "resources/snowflake_sync.job.yml": {"jobs": ["riskstream_snowflake_sync"]},
        "resources/streaming.job.yml": {"jobs": ["riskstream_streaming"]},
        "resources/table_maintenance.job.yml": {"jobs": ["riskstream_table_maintenance"]},
    }


def test_bundle_matches_the_published_schema(bundle: tuple[dict[str, Any], dict[str, dict[str, Any]]]) -> None:
    assert schema_errors(bundle[1]) == []


def test_every_variable_has_a_value_in_every_target(bundle: tuple[dict[str, Any], dict[str, dict[str, Any]]]) -> None:
    assert variable_errors(bundle[0]) == []


def test_every_referenced_file_exists(bundle: tuple[dict[str, Any], dict[str, dict[str, Any]]]) -> None:
    assert file_errors(REPO, *bundle) == []


def test_every_task_loads_its_settings_and_the_bundle_declares_what_they_name(
    bundle: tuple[dict[str, Any], dict[str, dict[str, Any]]],
) -> None:
    assert settings_errors(bundle[0]) == []


def test_targets_and_jobs_as_deployed(bundle: tuple[dict[str, Any], dict[str, dict[str, Any]]]) -> None:
    assert deployment_errors(bundle[0]) == []


def _wheel_tasks(config: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    return [
        (job_key, task["task_key"], list(task["python_wheel_task"]["parameters"]))
        for job_key, job in sorted(jobs(config).items())
        for task in job["tasks"]
        if "python_wheel_task" in task
    ]


DEPLOYMENT_ARGUMENTS = [
    *("--target", "${bundle.target}", "--conf", "${var.conf_profile}"),
    *("--set", "storage.catalog=${var.catalog}", "--set", "storage.schema_prefix=${var.schema_prefix}"),
    *("--set", "secret_scope=${var.secret_scope}"),
    *("--set", "kafka.bootstrap_servers=${var.eventhubs_namespace}.servicebus.windows.net:9093"),
    *("--set", "snowflake.account=${var.snowflake_account}", "--set", "snowflake.user=${var.snowflake_user}"),
    *("--set", "snowflake.database=${var.snowflake_database}"),
]


def test_task_command_lines(bundle: tuple[dict[str, Any], dict[str, dict[str, Any]]]) -> None:
    """Every task gets the same deployment values from the bundle's variables."""
    landing = "/Volumes/${var.catalog}/${var.schema_prefix}reference/landing"
    assert _wheel_tasks(bundle[0]) == [
        (
            "riskstream_reference_refresh",
            "reference_load",
            ["reference", "load", "--source", landing, *DEPLOYMENT_ARGUMENTS],
        ),
        ("riskstream_risk_factors", "risk_factors", ["risk", "factors", *DEPLOYMENT_ARGUMENTS]),
        ("riskstream_risk_stress", "risk_stress", ["risk", "stress", *DEPLOYMENT_ARGUMENTS]),
        ("riskstream_snowflake_sync", "sync", ["sync", *DEPLOYMENT_ARGUMENTS]),
        ("riskstream_streaming", "bronze", ["run", "bronze", "--trigger", "conf", *DEPLOYMENT_ARGUMENTS]),
        ("riskstream_streaming", "hot", ["run", "hot", "--trigger", "conf", *DEPLOYMENT_ARGUMENTS]),
        ("riskstream_streaming", "windows", ["run", "windows", "--trigger", "conf", *DEPLOYMENT_ARGUMENTS]),
        ("riskstream_table_maintenance", "maintain", ["maintain", *DEPLOYMENT_ARGUMENTS]),
        ("riskstream_var_backtest", "var_backtest", ["risk", "backtest", *DEPLOYMENT_ARGUMENTS]),
    ]


def test_two_developers_dev_deployments_share_nothing(
    bundle: tuple[dict[str, Any], dict[str, dict[str, Any]]],
) -> None:
    """alice's and bob's `dev` deployments resolve to disjoint schemas (so tables), checkpoints and scopes."""
    alice, bob = (deployment_footprint(bundle[0], "dev", user) for user in ("alice", "bob"))
    assert alice == {
        "schemas": {f"riskstream_dev.alice_{layer}" for layer in LAYERS},
        "checkpoints": {"/Volumes/riskstream_dev/alice_ops/checkpoints/"},
        "secret_scopes": {"riskstream-dev-alice"},
        "landing": {"/Volumes/riskstream_dev/alice_reference/landing"},
    }
    assert bob["schemas"] == {f"riskstream_dev.bob_{layer}" for layer in LAYERS}
    for kind in alice:
        assert alice[kind].isdisjoint(bob[kind]), kind
    assert deployment_footprint(bundle[0], "prod") == {
        "schemas": {f"riskstream_prod.{layer}" for layer in LAYERS},
        "checkpoints": {"/Volumes/riskstream_prod/ops/checkpoints/"},
        "secret_scopes": {"riskstream-prod"},
        "landing": {"/Volumes/riskstream_prod/reference/landing"},
    }


@pytest.mark.parametrize("target", DEPLOYED_TARGETS)
def test_the_notebooks_job_names_the_same_deployment_as_the_streaming_job(
    bundle: tuple[dict[str, Any], dict[str, dict[str, Any]]], target: str
) -> None:
    """Its job parameters (the notebooks' widgets) load the settings the streaming tasks load."""
    rendered = render(bundle[0], target)["resources"]["jobs"]
    parameters = {item["name"]: item["default"] for item in rendered["riskstream_notebooks"]["parameters"]}
    assert sorted(parameters) == sorted(NOTEBOOK_WIDGETS)
    from_widgets = notebook_settings(lambda name: parameters[name])
    assert from_widgets == task_settings(rendered_tasks(bundle[0], target)["riskstream_streaming.hot"])
    notebooks = sorted(task["notebook_task"]["notebook_path"] for task in rendered["riskstream_notebooks"]["tasks"])
    assert notebooks == sorted(f"../notebooks/{path.name}" for path in (REPO / "notebooks").glob("*.py"))
    assert all(task["libraries"] == [{"whl": "../dist/*.whl"}] for task in rendered["riskstream_notebooks"]["tasks"])


def test_an_extra_target_deploys_and_its_tasks_run(tmp_path: Path) -> None:
    """A `staging` target added to databricks.yml (its variables only) passes every check, and each of
    its tasks parses and loads its settings: the prod profile, its own catalog, scope and namespace."""
    root = _copy_bundle(tmp_path)
    staging = {
        "mode": "production",
        "workspace": {"root_path": "/Workspace/Shared/.bundle/${bundle.name}/${bundle.target}"},
        "run_as": {"service_principal_name": "${var.service_principal}"},
        "variables": {
            "catalog": "riskstream_staging",
            "secret_scope": "riskstream-staging",
            "eventhubs_namespace": "riskstream-staging",
            "snowflake_account": "myorg-riskstream_staging",
            "snowflake_user": "RISKSTREAM_SYNC_STAGING",
            "snowflake_database": "RISKSTREAM_STAGING",
            "alert_email": "riskstream-staging@example.com",
            "service_principal": "33333333-3333-3333-3333-333333333333",
        },
    }
    _edit(root / "databricks.yml", lambda document: document["targets"].update({"staging": staging}))
    assert all_errors(root) == []
    config, _ = load_bundle(root)
    loaded = {task: task_settings(arguments) for task, arguments in rendered_tasks(config, "staging").items()}
    assert sorted(loaded) == [
        "riskstream_reference_refresh.reference_load",
        "riskstream_risk_factors.risk_factors",
        "riskstream_risk_stress.risk_stress",
        "riskstream_snowflake_sync.sync",
        "riskstream_streaming.bronze",
        "riskstream_streaming.hot",
        "riskstream_streaming.windows",
        "riskstream_table_maintenance.maintain",
        "riskstream_var_backtest.var_backtest",
    ]
    settings = loaded["riskstream_streaming.hot"]
    assert (settings.target, settings.profile, settings.storage.catalog, settings.storage.checkpoint_root) == (
        "staging",
        "prod",
        "riskstream_staging",
        "/Volumes/riskstream_staging/ops/checkpoints",
    )
    assert settings.kafka.bootstrap_servers == "riskstream-staging.servicebus.windows.net:9093"
    assert settings.kafka.oauth is not None
    assert settings.kafka.oauth.client_secret.describe() == "secret scope riskstream-staging/eventhubs-client-secret"
    assert (settings.snowflake.account, settings.snowflake.user, settings.snowflake.database) == (
        "myorg-riskstream_staging",
        "RISKSTREAM_SYNC_STAGING",
        "RISKSTREAM_STAGING",
    )


@pytest.mark.parametrize("target", DEPLOYED_TARGETS)
@pytest.mark.parametrize(
    ("job_key", "task_key"),
    [
        ("riskstream_streaming", "bronze"),
        ("riskstream_streaming", "hot"),
        ("riskstream_streaming", "windows"),
        ("riskstream_snowflake_sync", "sync"),
        ("riskstream_reference_refresh", "reference_load"),
        ("riskstream_risk_factors", "risk_factors"),
        ("riskstream_risk_stress", "risk_stress"),
        ("riskstream_table_maintenance", "maintain"),
        ("riskstream_var_backtest", "var_backtest"),
    ],
)
def test_the_cli_accepts_each_task(
    bundle: tuple[dict[str, Any], dict[str, dict[str, Any]]], job_key: str, task_key: str, target: str
) -> None:
    """The wheel's own CLI parses the task's parameters (commands by other issues may land later)."""
    config = bundle[0]
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    task = next(task for task in jobs(config)[job_key]["tasks"] if task["task_key"] == task_key)
    assert (task["python_wheel_task"]["package_name"], task["python_wheel_task"]["entry_point"]) == (
        pyproject["project"]["name"],
        "riskstream",
    )
    assert pyproject["project"]["scripts"]["riskstream"] == "riskstream.cli:main"
    arguments = rendered_tasks(config, target)[f"{job_key}.{task_key}"]
    params = parse_cli(arguments)
    assert params["target"] == target
    settings = task_settings(arguments)
    assert (settings.target, settings.profile, settings.storage.catalog) == (target, target, f"riskstream_{target}")


def _uv_command() -> str:
    """The uv `make install` put under .cache/tools, or one on PATH."""
    uv = REPO / ".cache" / "tools" / "bin" / "uv"
    found = str(uv) if uv.is_file() else shutil.which("uv")
    assert found, "uv is needed to build the wheel: run `make install`"
    return found


def test_the_wheel_carries_the_entry_point_and_not_spark(tmp_path: Path) -> None:
    """`uv build --wheel` (what `make wheel`, the bundle's artifact build, runs) builds a wheel whose
    console script is riskstream.cli:main, which packages conf/, and which needs pyspark and
    delta-spark only through the `local` extra (Runtime 17.3 provides them)."""
    uv_command = _uv_command()
    subprocess.run(
        [uv_command, "build", "--wheel", "--out-dir", str(tmp_path), str(REPO)], check=True, capture_output=True
    )
    (wheel,) = tmp_path.glob("riskstream-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(name.rsplit("/", 1)[0] for name in names if name.endswith(".dist-info/METADATA"))
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
        metadata = archive.read(f"{info}/METADATA").decode()
    assert entry_points.split() == ["[console_scripts]", "riskstream", "=", "riskstream.cli:main"]
    spark_requirements = sorted(
        line
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist: ") and re.search(r"pyspark|delta-spark", line)
    )
    assert spark_requirements == [
        "Requires-Dist: delta-spark==4.0.0; extra == 'local'",
        "Requires-Dist: pyspark[sql]==4.0.0; extra == 'local'",
    ]
    assert {"riskstream/_conf/dev.yml", "riskstream/_conf/prod.yml", "riskstream/cli.py"} <= names
    assert "riskstream/jars/riskstream-lifecycle.jar" in names
    assert "Requires-Dist: snowflake-connector-python[pandas]<5,>=4.8.1" in metadata.splitlines()
    assert "Requires-Dist: snowflake-connector-python[pandas]==4.8.1; extra == 'local'" in metadata.splitlines()
    assert f"{info}/licenses/LICENSE" in names
    modules = sorted(name for name in names if name.endswith(".py"))
    assert [name for name in modules if not name.startswith(("riskstream/", "jobs/", "transformations/"))] == []
    test_code = [
        name
        for name in modules
        if name.startswith("tests/") or "/test_" in name or name.endswith("conftest.py") or "notebook_runner" in name
    ]
    assert test_code == []


def test_a_wheel_without_the_lifecycle_jar_is_refused(tmp_path: Path) -> None:
    """hatch_build.py stops `uv build --wheel` in a checkout whose jar was never built (it would deploy
    and then fail on the cluster); an editable install (`uv sync`, before Maven runs) is allowed."""
    source = tmp_path / "checkout"
    for name in ("pyproject.toml", "hatch_build.py", "README.md", "LICENSE"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, source / name)
    for package in ("riskstream", "jobs", "transformations", "conf"):
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("jars", "__pycache__"))
    uv_command = _uv_command()
    built = subprocess.run(
        [uv_command, "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
    )
    assert built.returncode != 0
    assert (
        "RuntimeError: riskstream/jars/riskstream-lifecycle.jar is missing: run `make install` (it builds "
        "jvm/lifecycle with Maven) before building the wheel"
    ) in built.stderr
    assert not (tmp_path / "dist").exists() or list((tmp_path / "dist").glob("*.whl")) == []


# --------------------------------------------------------------------------------------------
# A broken bundle fails, with the exact error
# --------------------------------------------------------------------------------------------


def _copy_bundle(destination: Path) -> Path:
    for name in ("databricks.yml", "pyproject.toml"):
        shutil.copy(REPO / name, destination / name)
    for folder in ("resources", "notebooks"):
        shutil.copytree(REPO / folder, destination / folder)
    return destination


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def _streaming(document: dict[str, Any]) -> dict[str, Any]:
    return document["resources"]["jobs"]["riskstream_streaming"]


def _bronze(document: dict[str, Any]) -> dict[str, Any]:
    return _streaming(document)["tasks"][0]


def _set(
    container_of: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any
) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        container_of(document)[key] = value

    return change


def _drop(container_of: Callable[[dict[str, Any]], dict[str, Any]], key: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        del container_of(document)[key]

    return change


STREAMING = "resources/streaming.job.yml"
ENVIRONMENT = "resources/environment.yml"


@pytest.mark.parametrize(
    ("file", "change", "expected"),
    [
        pytest.param(
            STREAMING,
            _set(lambda d: _bronze(d)["python_wheel_task"], "entry_pont", "riskstream"),
            [
                f"{STREAMING}: resources/jobs/riskstream_streaming/tasks/0/python_wheel_task: "
                "Additional properties are not allowed ('entry_pont' was unexpected)",
                "(merged): resources/jobs/riskstream_streaming/tasks/0/python_wheel_task: "
                "Additional properties are not allowed ('entry_pont' was unexpected)",
            ],
            id="schema: unknown key",
        ),
        pytest.param(
            STREAMING,
            _set(lambda d: _streaming(d)["job_clusters"][0]["new_cluster"], "num_workers", "four"),
            [
                f"{STREAMING}: resources/jobs/riskstream_streaming/job_clusters/0/new_cluster/num_workers: "
                "'four' is not valid under any of the given schemas",
                "(merged): resources/jobs/riskstream_streaming/job_clusters/0/new_cluster/num_workers: "
                "'four' is not valid under any of the given schemas",
                "variable num_workers is declared but never used",
            ],
            id="schema: not an int nor an interpolation",
        ),
        pytest.param(
            STREAMING,
            _set(
                lambda d: _bronze(d)["python_wheel_task"],
                "parameters",
                ["run", "bronze", "--targte", "${bundle.target}"],
            ),
            [
                "riskstream_streaming.bronze (dev): No such option: --targte (Possible options: --target, --trigger)",
                "riskstream_streaming.bronze (prod): No such option: --targte (Possible options: --target, --trigger)",
            ],
            id="cli: misspelt option",
        ),
        pytest.param(
            STREAMING,
            _set(
                lambda d: _bronze(d)["python_wheel_task"],
                "parameters",
                ["ops", "launch", "--target", "${bundle.target}"],
            ),
            [
                "riskstream_streaming.bronze (dev): no such command riskstream ops launch",
                "riskstream_streaming.bronze (prod): no such command riskstream ops launch",
            ],
            id="cli: unknown command",
        ),
        pytest.param(
            STREAMING,
            _set(lambda d: _bronze(d)["python_wheel_task"], "entry_point", "riskstream-run"),
            ["riskstream_streaming.bronze: entry point 'riskstream-run' is not in [project.scripts]"],
            id="entry point missing from pyproject",
        ),
        pytest.param(
            STREAMING,
            _set(lambda d: _bronze(d)["libraries"][0], "whl", "../build/riskstream.whl"),
            [f"{STREAMING}: riskstream_streaming: ../build/riskstream.whl is not a wheel the bundle's artifacts build"],
            id="file: wheel outside the artifact output",
        ),
        pytest.param(
            "databricks.yml",
            _set(lambda d: d["targets"]["prod"]["variables"], "notification_email", "x@example.com"),
            ["targets.prod.variables.notification_email is not declared under variables"],
            id="variable: set but not declared",
        ),
        pytest.param(
            "databricks.yml",
            _drop(lambda d: d["targets"]["dev"]["variables"], "alert_email"),
            ["target dev: variable alert_email has no default and no value for dev"],
            id="variable: no value in a target",
        ),
        pytest.param(
            ENVIRONMENT,
            _set(lambda d: d["resources"]["schemas"]["gold"], "name", "${var.schema_prefix}golden"),
            [
                "target dev: schema riskstream_dev.alice_gold is used but not declared under resources.schemas",
                "target prod: schema riskstream_prod.gold is used but not declared under resources.schemas",
            ],
            id="environment: a schema the tasks use is not declared",
        ),
        pytest.param(
            ENVIRONMENT,
            _drop(lambda d: d["resources"], "secret_scopes"),
            [
                "target dev: secret scope riskstream-dev-alice is not declared under resources.secret_scopes",
                "target prod: secret scope riskstream-prod is not declared under resources.secret_scopes",
            ],
            id="environment: the secret scope is not declared",
        ),
        pytest.param(
            "databricks.yml",
            _set(lambda d: d["targets"]["dev"], "mode", "production"),
            ["targets.dev must be the default target in mode: development"],
            id="target: dev not in development mode",
        ),
        pytest.param(
            STREAMING,
            _set(_bronze, "max_retries", -1),
            ["riskstream_streaming.bronze: a continuous job's task takes no retry policy ['max_retries']"],
            id="streaming: a retry policy on a continuous job's task",
        ),
        pytest.param(
            STREAMING,
            _drop(_streaming, "continuous"),
            [
                "riskstream_streaming: the streaming job is continuous, switched by its pause_status",
                "riskstream_streaming: a failed streaming task is retried while the others run (ON_FAILURE)",
            ],
            id="streaming: not continuous",
        ),
        pytest.param(
            "resources/snowflake_sync.job.yml",
            _drop(lambda d: d["resources"]["jobs"]["riskstream_snowflake_sync"], "notification_settings"),
            [
                "riskstream_snowflake_sync: a skipped run must not mail "
                "(notification_settings.no_alert_for_skipped_runs)"
            ],
            id="sync: mails on skipped runs",
        ),
        pytest.param(
            "databricks.yml",
            _set(lambda d: d["artifacts"]["riskstream_wheel"], "build", "make wheel"),
            ["artifacts.riskstream_wheel: build with `uv build --wheel` (no make on the deploying machine)"],
            id="artifact: built with make",
        ),
    ],
)
def test_a_broken_bundle_fails(
    tmp_path: Path, file: str, change: Callable[[dict[str, Any]], None], expected: list[str]
) -> None:
    """Only the errors the break adds are compared, so commands still being written elsewhere (and
    reported by test_the_cli_accepts_each_task) do not mask what this proves."""
    root = _copy_bundle(tmp_path)
    before = all_errors(root)
    _edit(root / file, change)
    assert [error for error in all_errors(root) if error not in before] == expected


def test_an_included_resource_file_with_errors_fails(tmp_path: Path) -> None:
    """tests/fixtures/bundle/broken.job.yml lands in resources/ and is picked up by the include glob."""
    root = _copy_bundle(tmp_path)
    before = all_errors(root)
    shutil.copy(BROKEN / "broken.job.yml", root / "resources" / "broken.job.yml")
    errors = [error for error in all_errors(root) if error not in before]
    job = "resources/jobs/riskstream_broken"
    assert errors == [
        f"resources/broken.job.yml: {job}/schedule: 'timezone_id' is a required property",
        f"resources/broken.job.yml: {job}/tasks/0: 'task_key' is a required property",
        f"(merged): {job}/schedule: 'timezone_id' is a required property",
        f"(merged): {job}/tasks/0: 'task_key' is a required property",
        *(
            f"target {target}: secret reference {{key: {key}}} has no scope: pass --set secret_scope=SCOPE "
            "(a bundle task passes the target's secret_scope variable)"
            for target, key in (("dev", "eventhubs-connection-string"), ("prod", "eventhubs-tenant-id"))
        ),
        "riskstream_broken: no email_notifications.on_failure",
        "riskstream_broken: tag riskstream_component 'backfill' is not one ops knows",
    ]
