"""``riskstream produce``: simulated trade events to the target's Kafka topic or Event Hub.

Exits 0 only when every planned record was delivered; otherwise it prints the report and fails
with a :class:`~riskstream.errors.DeliveryError` (exit code 5) naming the endpoint.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from riskstream.commands.common import ConfOption, SetOption, TargetOption, console, settings_for
from riskstream.commands.reference_generate import InstrumentsOption, PortfoliosOption, SeedOption
from riskstream.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from riskstream.config import Settings
    from riskstream.producer import ProduceReport, Transport
    from riskstream.simulator import SimulatedRecord

PROGRESS_BAR_FROM = 2_000
"""Runs with at least this many records (or longer than 10 s at the chosen rate) show a progress bar."""


class TransportKind(StrEnum):
    kafka = "kafka"
    amqp = "amqp"


Rate = Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of records with this fault (0..1).")]


def _start_time(start: str | None) -> datetime:
    if start is None:
        now = datetime.now(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)
    try:
        parsed = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--start {start!r} is not an ISO-8601 time such as 2026-11-24T09:30:00Z") from None
    if parsed.tzinfo is None:
        raise ConfigError("--start needs a time zone, e.g. 2026-11-24T09:30:00Z")
    return parsed.astimezone(UTC)


def _kafka_bootstrap(settings: Settings) -> str:
    if settings.kafka.bootstrap_servers:
        return settings.kafka.bootstrap_servers
    from riskstream import kafka_broker

    broker = kafka_broker.running_broker()
    if broker is None:
        raise ConfigError("the local Kafka broker is not running; start it with `riskstream kafka start`")
    return broker.bootstrap_servers


def _transport(
    settings: Settings, kind: TransportKind, delivery_timeout_s: float, resend_attempts: int, default_credential: bool
) -> Transport:
    from riskstream.producer import EventHubsTransport, KafkaTransport

    if kind is TransportKind.amqp:
        return EventHubsTransport.from_config(settings.kafka, use_default_credential=default_credential)
    return KafkaTransport.from_config(
        settings.kafka,
        _kafka_bootstrap(settings),
        delivery_timeout_ms=int(delivery_timeout_s * 1000),
        resend_attempts=resend_attempts,
    )


def produce(
    target: TargetOption = "local",
    conf: ConfOption = None,
    overrides: SetOption = None,
    count: Annotated[int | None, typer.Option(min=0, help="How many records (or use --duration).")] = None,
    duration: Annotated[float | None, typer.Option(min=0.0, help="Seconds to run at --rate (or --count).")] = None,
    rate: Annotated[float, typer.Option(min=0.0, help="Records per second; 0 = as fast as acknowledged.")] = 100.0,
    seed: SeedOption = 7,
    portfolios: PortfoliosOption = 10,
    instruments: InstrumentsOption = 40,
    start: Annotated[
        str | None, typer.Option(help="Stream clock start (ISO-8601 UTC); default now. Fix it to reproduce a run.")
    ] = None,
    v2_share: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of schema_version 2 events.")] = 0.5,
    malformed_json: Rate = 0.0,
    schema_invalid: Rate = 0.0,
    duplicate: Rate = 0.0,
    late: Rate = 0.0,
    out_of_order: Rate = 0.0,
    unknown_portfolio: Rate = 0.0,
    unknown_instrument: Rate = 0.0,
    transport: Annotated[
        TransportKind, typer.Option(help="kafka (local broker or Event Hubs Kafka endpoint) or amqp (Event Hubs).")
    ] = TransportKind.kafka,
    topic: Annotated[str | None, typer.Option(help="Topic / event hub; default the target's kafka.topic.")] = None,
    delivery_timeout_s: Annotated[
        float, typer.Option(min=1.0, help="Kafka: how long librdkafka retries one record before it fails.")
    ] = 30.0,
    resend_attempts: Annotated[int, typer.Option(min=0, max=10, help="Kafka: resends of a failed record.")] = 2,
    default_credential: Annotated[
        bool,
        typer.Option("--default-credential", help="amqp: DefaultAzureCredential instead of the configured auth."),
    ] = False,
    reference_out: Annotated[
        Path | None, typer.Option(help="Also write the matching reference CSVs into this folder.")
    ] = None,
) -> None:
    """Simulate trades (with optional faults) and send them; print sent / delivered / failed / retried."""
    from riskstream.simulator import FaultRates, MarketSimulator

    if (count is None) == (duration is None):
        raise ConfigError("give exactly one of --count or --duration")
    if duration is not None and rate == 0:
        raise ConfigError("--duration needs a --rate above 0")
    settings = settings_for(target, conf, overrides)
    if topic:
        settings = settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"topic": topic})})
    faults = FaultRates(
        malformed_json=malformed_json,
        schema_invalid=schema_invalid,
        duplicate=duplicate,
        late=late,
        out_of_order=out_of_order,
        unknown_portfolio=unknown_portfolio,
        unknown_instrument=unknown_instrument,
    )
    simulator = MarketSimulator(
        seed=seed, n_portfolios=portfolios, n_instruments=instruments, start=_start_time(start), v2_share=v2_share
    )
    if reference_out is not None:
        simulator.write_reference_csv(reference_out)
        console.print(f"produce: wrote the matching reference data to {reference_out}")
    stream_rate = rate or 1000.0
    planned = count if count is not None else round((duration or 0.0) * stream_rate)
    records = simulator.events(planned, rate=stream_rate, faults=faults)
    sender = _transport(settings, transport, delivery_timeout_s, resend_attempts, default_credential)
    console.print(
        f"produce: {planned} records to {settings.kafka.topic} on {sender.endpoint} "
        f"({transport.value}, {'unthrottled' if not rate else f'{rate:g}/s'}, seed {seed})"
    )
    report = _run_with_progress(records, planned, sender, settings.kafka.topic, rate)
    console.print(f"produce: {report.summary()}")
    kinds = ", ".join(f"{kind} {number}" for kind, number in sorted(report.by_kind.items()))
    console.print(f"produce: sent by kind: {kinds or 'none'}")
    report.raise_for_failures()


def _run_with_progress(
    records: Iterator[SimulatedRecord], planned: int, sender: Transport, topic: str, rate: float
) -> ProduceReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from riskstream.producer import produce as run_produce

    long_run = planned >= PROGRESS_BAR_FROM or (rate > 0 and planned / rate > 10)
    if not long_run:
        return run_produce(records, sender, destination=topic, planned=planned, rate=rate or None)
    with Progress(
        TextColumn("producing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    ) as progress:
        task = progress.add_task("produce", total=planned)
        return run_produce(
            records,
            sender,
            destination=topic,
            planned=planned,
            rate=rate or None,
            on_progress=lambda report: progress.update(task, completed=report.sent),
        )
