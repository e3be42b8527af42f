"""Typed configuration: a conf profile from the wheel, the deployment's values on top, validated on load.

A *profile* (``conf/<name>.yml``) gives the shape and the defaults of one kind of deployment:
``local`` (this machine), ``dev`` and ``prod`` (a Databricks workspace). A *target* is a
deployment's name: ``local``, or any bundle target (``dev``, ``prod``, ``staging``...); it uses the
profile of the same name unless ``--conf`` names another. What differs per deployment (catalog,
per-user schema prefix, secret scope, Event Hubs namespace, Snowflake account) comes from the bundle
as ``--set key=value`` overrides, so ``databricks.yml`` is the one place each value is written.

Every section is a frozen pydantic model that forbids unknown keys, so a typo fails at start-up
naming the key (``kafka.bootstrap_server: extra inputs are not permitted``) instead of silently
falling back to a default. Secrets are references (:class:`SecretRef`), never values; they are
resolved late by :mod:`riskstream.secrets`.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from riskstream.errors import ConfigError
from riskstream.paths import conf_dir, state_dir

if TYPE_CHECKING:
    from transformations.stress import StressScenario

LOCAL_TARGET = "local"
_TARGET = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION = re.compile(r"^\d+ (millisecond|second|minute|hour|day)s?$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Model):
    """Where a secret lives: a Databricks secret scope and key, or an environment variable name."""

    env: str | None = None
    scope: str | None = None
    key: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> SecretRef:
        if self.env and not (self.scope or self.key):
            return self
        if self.scope and self.key and not self.env:
            return self
        raise ValueError("a secret reference is either {env: NAME} or {scope: SCOPE, key: KEY}")

    def describe(self) -> str:
        """Where the secret comes from, for messages. Never the value."""
        return f"env:{self.env}" if self.env else f"secret scope {self.scope}/{self.key}"


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError(f"expected a Spark duration such as '10 seconds' or '5 minutes', got {value!r}")
    return value


SparkDuration = Annotated[str, AfterValidator(_duration)]
"""A Spark interval string such as ``'10 seconds'``, checked on load."""


class OAuthConfig(_Model):
    """Entra ID client-credentials for the Event Hubs Kafka endpoint (SASL OAUTHBEARER)."""

    tenant_id: str | SecretRef
    """The directory (tenant) id, or where to read it: a deployment keeps its app registration's ids
    in its secret scope next to the client secret, so no profile names one."""
    client_id: str | SecretRef
    client_secret: SecretRef


class KafkaConfig(_Model):
    """Where trades come from. ``local`` is the project's own broker; ``eventhubs`` the Kafka endpoint."""

    mode: Literal["local", "eventhubs"]
    bootstrap_servers: str | None = None
    topic: str = "trades"
    alerts_topic: str = "risk-alerts"
    prices_topic: str = "prices"
    """Market data: price and FX ticks (:mod:`riskstream.simulator` ``ticks``); on Event Hubs a second
    event hub of the same namespace."""
    auth: Literal["none", "connection_string", "oauth"] = "none"
    connection_string: SecretRef | None = None
    oauth: OAuthConfig | None = None
    partitions: int = Field(default=4, ge=1, le=1024)
    starting_offsets: Literal["earliest", "latest"] = "earliest"
    fail_on_data_loss: bool = True
    producer_idempotence: bool = True
    """``enable.idempotence`` for ``riskstream produce``'s Kafka transport: librdkafka's retries then
    never duplicate or reorder a partition. Turn it off only for an endpoint that refuses producer
    ids (``InitProducerId``); resends are then deduplicated by silver on ``event_id``."""

    @model_validator(mode="after")
    def _auth_matches_mode(self) -> KafkaConfig:
        if self.mode == "local":
            if self.auth != "none":
                raise ValueError("kafka.auth must be 'none' for the local broker")
            return self
        if not self.bootstrap_servers or not self.bootstrap_servers.endswith(":9093"):
            raise ValueError("kafka.bootstrap_servers must be '<namespace>.servicebus.windows.net:9093' for Event Hubs")
        if self.auth == "connection_string" and self.connection_string is None:
            raise ValueError("kafka.connection_string is required when kafka.auth is 'connection_string'")
        if self.auth == "oauth" and self.oauth is None:
            raise ValueError("kafka.oauth is required when kafka.auth is 'oauth'")
        if self.auth == "none":
            raise ValueError("kafka.auth must be 'connection_string' or 'oauth' for Event Hubs")
        return self

    @property
    def eventhubs_namespace_host(self) -> str:
        """``<namespace>.servicebus.windows.net``, the OAuth audience and the AMQP host."""
        return (self.bootstrap_servers or "").rsplit(":", 1)[0]


class SparkConfig(_Model):
    """Session settings. ``master`` is None on Databricks, where the active session is reused."""

    app_name: str = "riskstream"
    master: str | None = None
    shuffle_partitions: int = Field(default=4, ge=1, le=10000)
    rocksdb_state_store: bool = True
    ui_enabled: bool = True
    extra: dict[str, str] = Field(default_factory=dict)


class StorageConfig(_Model):
    """Where tables and checkpoints live.

    Locally tables are path-based Delta tables under ``base_path``; on Databricks they are Unity
    Catalog tables ``catalog.schema.table`` and checkpoints live on a UC volume.
    """

    catalog: str | None = None
    schema_prefix: str = ""
    """Put in front of every schema name: a per-user prefix keeps two developers' ``dev`` deployments
    in disjoint schemas, tables and checkpoints of one catalog."""
    bronze_schema: str = "bronze"
    silver_schema: str = "silver"
    gold_schema: str = "gold"
    ops_schema: str = "ops"
    reference_schema: str = "reference"
    base_path: str | None = None
    checkpoint_root: str = ""
    """Locally a folder; on Databricks, when left out, the ``checkpoints`` volume of the ops schema
    (:data:`CHECKPOINT_VOLUME`), which the bundle declares."""

    def schema_of(self, layer: str) -> str:
        """The Unity Catalog schema of ``layer`` (bronze, silver, gold, ops or reference), prefix included."""
        return (
            self.schema_prefix
            + {
                "bronze": self.bronze_schema,
                "silver": self.silver_schema,
                "gold": self.gold_schema,
                "ops": self.ops_schema,
                "reference": self.reference_schema,
            }[layer]
        )

    @field_validator("schema_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9_]*$", value):
            raise ValueError(f"{value!r}: a schema prefix has letters, digits and underscores only")
        return value

    @field_validator("catalog", "bronze_schema", "silver_schema", "gold_schema", "ops_schema", "reference_schema")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not _IDENTIFIER.match(value):
            raise ValueError(f"{value!r} is not a valid identifier (letters, digits, underscore)")
        return value

    @model_validator(mode="after")
    def _catalog_or_path(self) -> StorageConfig:
        if (self.catalog is None) == (self.base_path is None):
            raise ValueError(
                "set exactly one of storage.catalog (Unity Catalog; a bundle task passes --set storage.catalog=...) "
                "or storage.base_path (local Delta)"
            )
        if not self.checkpoint_root and self.catalog:
            # frozen model: set the derived default once, while validating
            object.__setattr__(
                self, "checkpoint_root", f"/Volumes/{self.catalog}/{self.schema_of('ops')}/{CHECKPOINT_VOLUME}"
            )
        if not self.checkpoint_root:
            raise ValueError("storage.checkpoint_root is required for local Delta tables")
        return self


class TriggerConfig(_Model):
    """A Structured Streaming trigger as data: availableNow, processingTime or continuous-looking runs."""

    kind: Literal["available_now", "processing_time"] = "available_now"
    interval: SparkDuration = "10 seconds"


class StreamConfig(_Model):
    """Per-query settings."""

    trigger: TriggerConfig = TriggerConfig()
    max_offsets_per_trigger: int | None = Field(default=None, ge=1)
    max_files_per_trigger: int | None = Field(default=None, ge=1)


class StreamsConfig(_Model):
    bronze: StreamConfig = StreamConfig()
    silver: StreamConfig = StreamConfig()
    gold: StreamConfig = StreamConfig()
    """``gold_positions``: positions, portfolio_risk and alerts, on the critical path from a trade to risk."""
    hot: StreamConfig = StreamConfig()
    """``hot_risk``: Kafka -> silver and gold -> portfolio_risk in one query, the path from a trade to risk.
    ``max_offsets_per_trigger`` applies to each of its two topics."""
    gold_windows: StreamConfig | None = None
    """The two window queries (``gold_portfolio_risk_1m``, ``gold_exposure_by_asset_class_5m``); None:
    as ``gold``. They are off the critical path, so a longer interval leaves the two cores to it."""
    prices: StreamConfig | None = None
    """The two price queries (``bronze_price_ticks``, ``silver_prices``); None: as ``bronze`` and ``silver``.
    Ticks reach risk through ``gold_positions`` whatever their own trigger, so a longer interval here
    costs a tick little latency and leaves the cores to the trade path."""


class SilverConfig(_Model):
    """Validation and state bounds for the silver stream."""

    watermark: SparkDuration = "10 minutes"
    future_skew: SparkDuration = "5 minutes"
    lifecycle_state_ttl: SparkDuration = "7 days"
    tick_max_age: SparkDuration = "5 minutes"
    """A price or FX tick whose ``tick_ts`` is more than this before its Kafka timestamp is
    quarantined as ``stale_tick``: a feed replaying old prices must not re-mark today's positions."""


class GoldConfig(_Model):
    """Windowing and alert thresholds for gold."""

    watermark: SparkDuration = "10 minutes"
    concentration_limit: float = Field(default=0.25, gt=0, le=1)
    single_trade_limit_share: float = Field(default=0.10, gt=0, le=1)
    reference_check_interval: SparkDuration = "1 minute"
    """How often ``gold_positions`` looks for a new version of the instruments, portfolios and
    correlations tables and of ``gold.risk_factors`` (four one-row history reads); a new one rebuilds
    the risk model and recomputes every portfolio's risk with its next batch. Reference data changes
    daily; reading its history in every batch cost each batch those reads."""
    snapshot_interval: SparkDuration = "30 seconds"
    """How often the hot query's background flusher writes gold.positions, gold.marks, the day's gold.pnl,
    gold.risk_alerts and ops.data_quality (:mod:`jobs.hot_flush`), one commit per table for every batch
    since the last flush. gold.portfolio_risk and the alerts topic are written in each batch whatever this
    is; a longer interval leaves the cores to them, and these tables lag risk by up to about this long plus
    one flush. At 1,000 trades/s on 2 cores: 10 seconds kept the flusher busy all the time; 30 seconds
    cut the hot batch's median duration from 13.2 s to 7.8 s (docs/benchmarks.md)."""


_SCENARIO_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


class StressScenarioConfig(_Model):
    """One stress scenario (rules in :mod:`transformations.stress`): relative shocks, each above -1."""

    name: str
    description: str
    asset_class: dict[str, float] = Field(default_factory=dict)
    sector: dict[str, float] = Field(default_factory=dict)
    instrument: dict[str, float] = Field(default_factory=dict)
    fx: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _valid(self) -> StressScenarioConfig:
        from transformations.schemas import ASSET_CLASSES

        if not _SCENARIO_NAME.match(self.name):
            raise ValueError(f"stress scenario name {self.name!r}: lower-case letters, digits and '_'")
        for kind in ("asset_class", "sector", "instrument", "fx"):
            for key, shock in getattr(self, kind).items():
                if shock <= -1:
                    raise ValueError(f"stress scenario {self.name}: {kind} {key} shock {shock} must be above -1")
        unknown = sorted(set(self.asset_class) - set(ASSET_CLASSES))
        if unknown:
            raise ValueError(f"stress scenario {self.name}: asset classes {unknown} are not {list(ASSET_CLASSES)}")
        codes = [code for code in self.fx if not _CURRENCY_CODE.match(code)]
        if codes:
            raise ValueError(f"stress scenario {self.name}: fx keys {codes} are not 3-letter currency codes")
        return self

    def scenario(self) -> StressScenario:
        from transformations.stress import StressScenario

        return StressScenario(self.name, self.description, self.asset_class, self.sector, self.instrument, self.fx)


DEFAULT_STRESS_SCENARIOS: tuple[StressScenarioConfig, ...] = (
    StressScenarioConfig(name="equity_crash", description="Equities -20 %", asset_class={"equity": -0.20}),
    StressScenarioConfig(name="credit_widening", description="Credit -8 %", asset_class={"credit": -0.08}),
    StressScenarioConfig(name="rates_shock", description="Rates -3 %", asset_class={"rates": -0.03}),
    StressScenarioConfig(name="commodity_slump", description="Commodities -15 %", asset_class={"commodity": -0.15}),
    StressScenarioConfig(name="usd_rally", description="USD +5 % against every currency", fx={"USD": 0.05}),
    StressScenarioConfig(name="usd_fall", description="USD -5 % against every currency", fx={"USD": -0.05}),
    StressScenarioConfig(
        name="risk_off",
        description="Equities -20 %, credit -8 %, commodities -15 %, USD +5 %",
        asset_class={"equity": -0.20, "credit": -0.08, "commodity": -0.15},
        fx={"USD": 0.05},
    ),
)
"""The scenarios a target runs unless its conf lists its own (``risk.stress_scenarios``)."""


class RiskConfig(_Model):
    """The risk model: EWMA factor estimates, historical scenarios and the correlation fallbacks
    (``riskstream risk factors`` and gold's portfolio risk)."""

    ewma_decay: float = Field(default=0.94, gt=0, lt=1)
    """RiskMetrics lambda for daily returns."""
    min_history_days: int = Field(default=60, ge=2)
    """A factor with fewer daily returns keeps its reference volatility (flagged in the output)."""
    scenario_days: int = Field(default=500, ge=100)
    """Historical-simulation scenarios: the last this many daily returns (at least 100, so 99 % VaR
    has a whole tail scenario)."""
    intra_sector_correlation: float = Field(default=0.5, ge=-1, le=1)
    """Correlation of two instruments of one sector with no instrument pair row and no EWMA estimate."""
    fx_daily_vol: float = Field(default=0.006, ge=0)
    """Daily volatility of a currency's USD rate with no EWMA estimate."""
    stress_scenarios: tuple[StressScenarioConfig, ...] = DEFAULT_STRESS_SCENARIOS
    """The what-if scenarios every portfolio is revalued under."""

    @field_validator("stress_scenarios")
    @classmethod
    def _unique_names(cls, value: tuple[StressScenarioConfig, ...]) -> tuple[StressScenarioConfig, ...]:
        names = [scenario.name for scenario in value]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"stress scenario names must be unique: {repeated} repeat")
        return value

    def scenarios(self) -> tuple[StressScenario, ...]:
        return tuple(scenario.scenario() for scenario in self.stress_scenarios)


class MaintenanceConfig(_Model):
    """Table maintenance (``riskstream maintain``): OPTIMIZE then VACUUM every bronze/silver/gold table.

    ``vacuum_retention_hours`` is how long removed data files are kept. It may not go below 168
    hours (7 days, Delta's own safety floor): a streaming reader or a time-travel query older than
    the retention would otherwise find its files gone. ``zorder_by`` maps ``layer.table`` to the
    columns to cluster on (optional; tables not listed are compacted without Z-ordering).
    """

    vacuum_retention_hours: int = Field(default=168, ge=168)
    zorder_by: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @field_validator("zorder_by")
    @classmethod
    def _zorder_names(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for table, columns in value.items():
            layer, _, name = table.partition(".")
            if layer not in ("bronze", "silver", "gold") or not _IDENTIFIER.match(name):
                raise ValueError(f"{table!r}: expected 'bronze|silver|gold.<table>'")
            if not columns:
                raise ValueError(f"{table!r}: list at least one column, or leave the table out")
            for column in columns:
                if not _IDENTIFIER.match(column):
                    raise ValueError(f"{table!r}: {column!r} is not a valid column name")
        return value


class SnowflakeConfig(_Model):
    """The Snowflake side. ``emulator`` is fakesnow, in-process, for the local target."""

    mode: Literal["emulator", "account"]
    account: str | None = None
    user: str | None = None
    role: str | None = None
    warehouse: str | None = None
    database: str = "RISKSTREAM"
    schema_name: str = Field(default="GOLD", alias="schema")
    auth: Literal["none", "keypair", "oauth", "password"] = "none"
    private_key: SecretRef | None = None
    private_key_passphrase: SecretRef | None = None
    oauth_token: SecretRef | None = None
    password: SecretRef | None = None
    emulator_path: str | None = None
    allow_password_auth: bool = False
    # `riskstream sync`: the control table (one row per gold table: the last merged Delta version) and
    # the bounded exponential backoff for transient connector errors.
    control_table: str = "RISKSTREAM_SYNC_STATE"
    retry_attempts: int = Field(default=5, ge=1, le=20)
    retry_initial_seconds: float = Field(default=1.0, gt=0)
    retry_max_seconds: float = Field(default=30.0, gt=0)
    # `riskstream snowflake ddl`: roles, the dashboard dynamic table and the credit monitor.
    sync_role: str = "RISKSTREAM_SYNC"
    reader_role: str = "RISKSTREAM_READER"
    dashboard_measure_column: str = "gross_notional_base"
    dashboard_target_lag: str = Field(default="1 minute", pattern=r"^\d+ (seconds|minutes|minute|hours|hour|days|day)$")
    monthly_credit_quota: int = Field(default=100, ge=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("control_table", "sync_role", "reader_role", "dashboard_measure_column")
    @classmethod
    def _sync_identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(f"{value!r} is not a valid Snowflake identifier (letters, digits, underscore)")
        return value

    @field_validator("database", "schema_name", "role", "warehouse")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not _IDENTIFIER.match(value):
            raise ValueError(f"{value!r} is not a valid Snowflake identifier (letters, digits, underscore)")
        return value

    @model_validator(mode="after")
    def _auth(self) -> SnowflakeConfig:
        if self.mode == "emulator":
            return self
        if not (self.account and self.user):
            raise ValueError("snowflake.account and snowflake.user are required for a real account")
        needed = {"keypair": self.private_key, "oauth": self.oauth_token, "password": self.password}
        if self.auth == "none" or needed.get(self.auth) is None:
            raise ValueError(f"snowflake.auth={self.auth!r} needs its secret reference (private_key / oauth_token)")
        if self.auth == "password" and not self.allow_password_auth:
            raise ValueError("password auth is refused; use keypair (JWT) or oauth")
        return self


CHECKPOINT_VOLUME = "checkpoints"
"""The UC volume, in the ops schema, that holds the streaming checkpoints (declared by the bundle)."""


class Settings(_Model):
    """The whole configuration of one target."""

    target: str
    profile: str
    secret_scope: str | None = None
    """The Databricks secret scope of the deployment: a secret reference written ``{key: KEY}``
    (without a scope) in a profile is read from it."""
    kafka: KafkaConfig
    spark: SparkConfig = SparkConfig()
    storage: StorageConfig
    streams: StreamsConfig = StreamsConfig()
    silver: SilverConfig = SilverConfig()
    gold: GoldConfig = GoldConfig()
    risk: RiskConfig = RiskConfig()
    snowflake: SnowflakeConfig
    maintenance: MaintenanceConfig = MaintenanceConfig()

    @field_validator("target")
    @classmethod
    def _target_name(cls, value: str) -> str:
        if not _TARGET.match(value):
            raise ValueError(f"{value!r}: a target is lower-case letters, digits, '-' and '_', like a bundle target")
        return value

    @model_validator(mode="after")
    def _deployable_storage(self) -> Settings:
        if self.target == LOCAL_TARGET:
            return self
        if self.storage.catalog is None:
            raise ValueError(f"target {self.target} is deployed: its tables live in Unity Catalog, set storage.catalog")
        root = self.storage.checkpoint_root
        if root.startswith(("/tmp", "dbfs:/tmp", "file:")):
            raise ValueError("storage.checkpoint_root: checkpoints under /tmp or local disk are lost; use a UC volume")
        return self

    @property
    def is_local(self) -> bool:
        return self.target == LOCAL_TARGET


def _resolve_local_paths(raw: dict[str, Any]) -> dict[str, Any]:
    """Relative local paths are relative to the state folder, so a checkout can live anywhere."""
    storage = raw.get("storage")
    if isinstance(storage, dict):
        for key in ("base_path", "checkpoint_root"):
            value = storage.get(key)
            if isinstance(value, str) and "://" not in value and not value.startswith("/"):
                storage[key] = str(state_dir() / value)
    snowflake = raw.get("snowflake")
    if isinstance(snowflake, dict):
        value = snowflake.get("emulator_path")
        if isinstance(value, str) and not value.startswith("/"):
            snowflake["emulator_path"] = str(state_dir() / value)
    return raw


def _format_validation_error(source: str, error: ValidationError) -> str:
    lines = [f"invalid configuration in {source}:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {key}: {item['msg']}")
    return "\n".join(lines)


def parse_settings(raw: dict[str, Any], source: str = "<dict>") -> Settings:
    """Validate a raw mapping into :class:`Settings`, naming every bad key on failure."""
    raw = {**raw, "profile": raw.get("profile") or raw.get("target")}
    try:
        return Settings.model_validate(_resolve_local_paths(_fill_secret_scope(raw)))
    except ValidationError as error:
        raise ConfigError(_format_validation_error(source, error)) from None


def _fill_secret_scope(raw: dict[str, Any]) -> dict[str, Any]:
    """``{key: KEY}`` secret references (no scope, no env) read from ``secret_scope``."""
    scope = raw.get("secret_scope")

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"key"}:
                if not scope:
                    raise ConfigError(
                        f"secret reference {{key: {node['key']}}} has no scope: pass --set secret_scope=SCOPE "
                        "(a bundle task passes the target's secret_scope variable)"
                    )
                return {"scope": scope, "key": node["key"]}
            return {name: fill(value) for name, value in node.items()}
        return node

    filled: dict[str, Any] = fill(raw)
    return filled


def profiles() -> list[str]:
    """The conf profiles packaged with riskstream (``conf/*.yml``)."""
    return sorted(path.stem for path in conf_dir().glob("*.yml"))


def parse_override(text: str) -> tuple[tuple[str, ...], str]:
    """``a.b.c=value`` -> (("a", "b", "c"), "value"). Values stay text; validation converts numbers and booleans."""
    key, equals, value = text.partition("=")
    path = tuple(key.strip().split("."))
    if not equals or not all(_IDENTIFIER.match(part) for part in path):
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE with a dotted key such as storage.catalog=main")
    return path, value


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``raw`` with each ``KEY=VALUE`` of ``overrides`` set (later ones win)."""
    result = copy.deepcopy(raw)
    for text in overrides:
        path, value = parse_override(text)
        node = result
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {text!r}: {part} is a value, not a section")
            node = child
        node[path[-1]] = value
    return result


def load_settings(
    target: str = LOCAL_TARGET, path: Path | None = None, *, conf: str | None = None, overrides: Sequence[str] = ()
) -> Settings:
    """Settings of ``target``: the profile ``conf`` (default: the target's name) with ``overrides`` on top.

    ``path`` (or ``RISKSTREAM_CONF``) names a conf file instead of a packaged profile, for tests and CI.
    """
    profile = conf or target
    override = os.environ.get("RISKSTREAM_CONF")
    config_path = path or (Path(override) if override else conf_dir() / f"{profile}.yml")
    if not config_path.is_file():
        if path is None and override is None:
            raise ConfigError(
                f"no conf profile {profile!r} for target {target!r}: pass --conf with one of {', '.join(profiles())}"
            )
        raise ConfigError(f"configuration file {config_path} not found")
    if (profile == LOCAL_TARGET) != (target == LOCAL_TARGET) and path is None and override is None:
        raise ConfigError(
            f"target {target!r} cannot use the {profile} profile: the local profile is for --target local only, "
            "the others are for deployed targets"
        )
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{config_path} is not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path} must hold a mapping at the top level")
    raw.setdefault("target", target)
    if raw["target"] != target:
        raise ConfigError(f"{config_path} declares target {raw['target']!r} but was loaded as {target!r}")
    raw = apply_overrides({**raw, "profile": profile}, overrides)
    sources = " ".join([str(config_path), *(f"--set {text}" for text in overrides)])
    return parse_settings(raw, sources)
