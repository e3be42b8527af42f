"""``riskstream produce``: simulated trade events (or market data ticks) to the target's Kafka topic or Event Hub.

``--stream trades`` (the default) sends trade events to ``kafka.topic``; ``--stream prices`` sends
price and FX ticks (:meth:`~riskstream.simulator.MarketSimulator.ticks`) to ``kafka.prices_topic``.
With the same ``--seed``, ``--start`` and ``--trade-rate`` equal to the trades' ``--rate``, the ticks
quote the price path the trades were priced from.

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


class StreamKind(StrEnum):
    trades = "trades"
    prices = "prices"


DEFAULT_RATES = {StreamKind.trades: 100.0, StreamKind.prices: 50.0}
"""Records per second when --rate is not given."""
UNTHROTTLED_STREAM_RATE = 1000.0
"""The stream clock's records per second with --rate 0 (or --trade-rate 0): event time still advances."""

ONE_STREAM_FAULTS = {
    StreamKind.trades: ("schema_invalid", "duplicate", "late", "unknown_portfolio"),
    StreamKind.prices: ("non_positive_price", "stale"),
}
"""Fault options that only one stream has (malformed_json, out_of_order and unknown_instrument: both)."""

Rate = Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of records with this fault (0..1).")]
TradeRate = Annotated[float, typer.Option(min=0.0, max=1.0, help="trades: share of records with this fault (0..1).")]
TickRate = Annotated[float, typer.Option(min=0.0, max=1.0, help="prices: share of ticks with this fault (0..1).")]


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


def _reject_faults_of_the_other_stream(stream: StreamKind, shares: dict[str, float]) -> None:
    other = StreamKind.prices if stream is StreamKind.trades else StreamKind.trades
    misplaced = [f"--{name.replace('_', '-')}" for name in ONE_STREAM_FAULTS[other] if shares[name]]
    if misplaced:
        raise ConfigError(f"{', '.join(misplaced)}: faults of --stream {other.value}, not of --stream {stream.value}")


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
    rate: Annotated[
        float | None,
        typer.Option(min=0.0, help="Records per second (trades 100, prices 50); 0 = as fast as acknowledged."),
    ] = None,
    stream: Annotated[
        StreamKind, typer.Option(help="trades (to kafka.topic) or prices: price and FX ticks (to kafka.prices_topic).")
    ] = StreamKind.trades,
    seed: SeedOption = 7,
    portfolios: PortfoliosOption = 10,
    instruments: InstrumentsOption = 40,
    start: Annotated[
        str | None, typer.Option(help="Stream clock start (ISO-8601 UTC); default now. Fix it to reproduce a run.")
    ] = None,
    v2_share: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of schema_version 2 events.")] = 0.5,
    malformed_json: Rate = 0.0,
    schema_invalid: TradeRate = 0.0,
    duplicate: TradeRate = 0.0,
    late: TradeRate = 0.0,
    out_of_order: Rate = 0.0,
    unknown_portfolio: TradeRate = 0.0,
    unknown_instrument: Rate = 0.0,
    non_positive_price: TickRate = 0.0,
    stale: TickRate = 0.0,
    trade_rate: Annotated[
        float,
        typer.Option(min=0.0, help="prices: the trades' --rate whose price path the ticks quote (0 = unthrottled)."),
    ] = DEFAULT_RATES[StreamKind.trades],
    fx_share: Annotated[float, typer.Option(min=0.0, max=1.0, help="prices: share of FX ticks.")] = 0.15,
    transport: Annotated[
        TransportKind, typer.Option(help="kafka (local broker or Event Hubs Kafka endpoint) or amqp (Event Hubs).")
    ] = TransportKind.kafka,
    topic: Annotated[
        str | None,
        typer.Option(help="Topic / event hub; default the target's kafka.topic (prices: kafka.prices_topic)."),
    ] = None,
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
    """Simulate trades or price ticks (with optional faults) and send them; print sent / delivered / failed."""
    from riskstream.simulator import FaultRates, MarketSimulator, TickFaultRates

    if (count is None) == (duration is None):
        raise ConfigError("give exactly one of --count or --duration")
    if rate is None:
        rate = DEFAULT_RATES[stream]
    if duration is not None and rate == 0:
        raise ConfigError("--duration needs a --rate above 0")
    one_stream_faults = {
        "schema_invalid": schema_invalid,
        "duplicate": duplicate,
        "late": late,
        "unknown_portfolio": unknown_portfolio,
        "non_positive_price": non_positive_price,
        "stale": stale,
    }
    _reject_faults_of_the_other_stream(stream, one_stream_faults)
    settings = settings_for(target, conf, overrides)
    destination = topic or (settings.kafka.topic if stream is StreamKind.trades else settings.kafka.prices_topic)
    settings = settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"topic": destination})})
    simulator = MarketSimulator(
        seed=seed, n_portfolios=portfolios, n_instruments=instruments, start=_start_time(start), v2_share=v2_share
    )
    if reference_out is not None:
        simulator.write_reference_csv(reference_out)
        console.print(f"produce: wrote the matching reference data to {reference_out}")
    stream_rate = rate or UNTHROTTLED_STREAM_RATE
    planned = count if count is not None else round((duration or 0.0) * stream_rate)
    records: Iterator[SimulatedRecord]
    if stream is StreamKind.trades:
        faults = FaultRates(
            malformed_json=malformed_json,
            schema_invalid=schema_invalid,
            duplicate=duplicate,
            late=late,
            out_of_order=out_of_order,
            unknown_portfolio=unknown_portfolio,
            unknown_instrument=unknown_instrument,
        )
        records = simulator.events(planned, rate=stream_rate, faults=faults)
        what = "records"
    else:
        tick_faults = TickFaultRates(
            malformed_json=malformed_json,
            non_positive_price=non_positive_price,
            stale=stale,
            out_of_order=out_of_order,
            unknown_instrument=unknown_instrument,
        )
        records = simulator.ticks(
            planned,
            rate=stream_rate,
            trade_rate=trade_rate or UNTHROTTLED_STREAM_RATE,
            faults=tick_faults,
            fx_share=fx_share,
        )
        what = "price ticks"
    sender = _transport(settings, transport, delivery_timeout_s, resend_attempts, default_credential)
    console.print(
        f"produce: {planned} {what} to {settings.kafka.topic} on {sender.endpoint} "
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
