"""A real, single-node Apache Kafka broker (KRaft, combined broker+controller) on 127.0.0.1.

The broker runs from Apache Kafka's own jars (Maven Central, cached under ``.cache/jars/kafka``)
as a child JVM, with its data and logs under ``<state>/kafka``. ``broker.json`` in that folder
records the process id and ports; ``stop`` signals exactly that process id after checking that
it is still our broker, so a recycled pid is never killed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from riskstream.errors import KafkaBrokerError
from riskstream.jvm import cached_jars, java_executable
from riskstream.paths import state_dir

READY_TIMEOUT_S = 60.0
_QUIET = logging.getLogger("riskstream.kafka_broker.librdkafka")
STOP_TIMEOUT_S = 20.0
_MAIN_CLASS = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"

_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.server.name = org.apache.kafka.server
logger.server.level = INFO
"""


@dataclass(frozen=True)
class BrokerInfo:
    """What ``broker.json`` records about a started broker."""

    pid: int
    port: int
    controller_port: int
    cluster_id: str
    home: str

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"


def broker_home(state: Path | None = None) -> Path:
    return (state or state_dir()) / "kafka"


def free_port() -> int:
    """A port the OS considers free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _read_info(home: Path) -> BrokerInfo | None:
    info_file = home / "broker.json"
    if not info_file.is_file():
        return None
    return BrokerInfo(**json.loads(info_file.read_text(encoding="utf-8")))


def _is_our_broker(info: BrokerInfo) -> bool:
    """True when ``info.pid`` is alive and is the broker JVM started for ``info.home``."""
    try:
        cmdline = Path(f"/proc/{info.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    args = [part.decode(errors="replace") for part in cmdline]
    return _MAIN_CLASS in args and any(arg.startswith(info.home) for arg in args)


def running_broker(state: Path | None = None) -> BrokerInfo | None:
    """The broker recorded in the state folder if its process is alive, else None."""
    info = _read_info(broker_home(state))
    return info if info is not None and _is_our_broker(info) else None


def _server_properties(home: Path, port: int, controller_port: int, partitions: int) -> str:
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={home / 'data'}",
            f"num.partitions={partitions}",
            "auto.create.topics.enable=false",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "log.retention.hours=168",
            "",
        ]
    )


def _java_command(home: Path, main_class: str, *args: str) -> list[str]:
    classpath = os.pathsep.join(str(jar) for jar in cached_jars("kafka"))
    return [
        java_executable(),
        "-Xms128m",
        "-Xmx512m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={home / 'logs'}",
        "-cp",
        classpath,
        main_class,
        *args,
    ]


def _tail(path: Path, lines: int = 15) -> str:
    if not path.is_file():
        return "(no log written)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _admin_conf(bootstrap_servers: str) -> dict[str, Any]:
    """librdkafka settings that route its connection logs to a quiet Python logger."""
    return {"bootstrap.servers": bootstrap_servers, "logger": _QUIET}


def _wait_ready(info: BrokerInfo, process: subprocess.Popen[bytes], log_file: Path, timeout_s: float) -> None:
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + timeout_s
    admin = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise KafkaBrokerError(
                f"the Kafka broker exited with code {process.returncode} during start-up. Last log lines:\n"
                f"{_tail(log_file)}"
            )
        if admin is None:
            # Ask Kafka only once the listener accepts connections: librdkafka logs every refused connect.
            if port_is_free(info.port):
                time.sleep(0.2)
                continue
            admin = AdminClient(_admin_conf(info.bootstrap_servers))
        try:
            if admin.list_topics(timeout=2).brokers:
                return
        except Exception:  # KafkaException while the broker finishes starting
            time.sleep(0.5)
    _terminate(process.pid)
    raise KafkaBrokerError(
        f"the Kafka broker did not become ready on {info.bootstrap_servers} within {timeout_s:.0f}s; it was stopped. "
        f"Last log lines:\n{_tail(log_file)}"
    )


def create_topics(bootstrap_servers: str, topics: dict[str, int]) -> list[str]:
    """Create the missing ``topics`` ({name: partitions}); returns the names it created."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(_admin_conf(bootstrap_servers))
    existing = set(admin.list_topics(timeout=10).topics)
    wanted = [NewTopic(name, num_partitions=count, replication_factor=1) for name, count in topics.items()]
    missing = [topic for topic in wanted if topic.topic not in existing]
    if not missing:
        return []
    for name, future in admin.create_topics(missing, operation_timeout=30).items():
        try:
            future.result(timeout=30)
        except Exception as error:
            raise KafkaBrokerError(f"could not create topic {name!r} on {bootstrap_servers}: {error}") from None
    return [topic.topic for topic in missing]


def start(
    state: Path | None = None,
    *,
    topics: dict[str, int] | None = None,
    partitions: int = 4,
    port: int | None = None,
    timeout_s: float = READY_TIMEOUT_S,
) -> BrokerInfo:
    """Start the broker (or return the one already running) and create ``topics``.

    Raises:
        KafkaBrokerError: the port is taken, the JVM exits, or it is not ready in ``timeout_s``.
        SetupError: Java or the cached Kafka jars are missing.
    """
    home = broker_home(state)
    already = running_broker(state)
    if already is not None:
        if topics:
            create_topics(already.bootstrap_servers, topics)
        return already
    previous = _read_info(home)
    if port is not None and not port_is_free(port):
        raise KafkaBrokerError(f"port {port} on 127.0.0.1 is already in use; choose another or leave it unset")
    if port is None:
        port = previous.port if previous and port_is_free(previous.port) else free_port()
    controller_port = free_port()
    while controller_port == port:
        controller_port = free_port()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    log_file = home / "logs" / "server.log"
    (home / "log4j2.properties").write_text(_LOG4J2.format(log_file=log_file), encoding="utf-8")
    properties = home / "server.properties"
    properties.write_text(_server_properties(home, port, controller_port, partitions), encoding="utf-8")

    cluster_id = previous.cluster_id if previous else _new_cluster_id()
    if not (home / "data" / "meta.properties").is_file():
        fmt = subprocess.run(
            _java_command(home, _STORAGE_TOOL, "format", "--cluster-id", cluster_id, "--config", str(properties)),
            capture_output=True,
            text=True,
            check=False,
        )
        if fmt.returncode != 0:
            raise KafkaBrokerError(f"formatting the KRaft storage failed:\n{fmt.stderr[-2000:] or fmt.stdout[-2000:]}")

    with (home / "logs" / "stdout.log").open("ab") as stdout:
        process = subprocess.Popen(
            _java_command(home, _MAIN_CLASS, str(properties)),
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    info = BrokerInfo(
        pid=process.pid, port=port, controller_port=controller_port, cluster_id=cluster_id, home=str(home)
    )
    (home / "broker.json").write_text(json.dumps(asdict(info), indent=2), encoding="utf-8")
    _wait_ready(info, process, log_file, timeout_s)
    if topics:
        create_topics(info.bootstrap_servers, topics)
    return info


def _new_cluster_id() -> str:
    """A KRaft cluster id as ``kafka-storage random-uuid`` makes it: 16 random bytes, URL-safe base64
    without padding, and never starting with ``-`` (which the tool's argument parser would take for
    an option; Kafka's own ``Uuid.randomUuid`` redraws such ids too)."""
    import base64

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _terminate(pid: int, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM ``pid`` (a clean Kafka shutdown), then SIGKILL if it is still alive after ``timeout_s``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    """Alive and not a zombie. A zombie that is our child is reaped here, so its /proc entry goes too."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    if status != "Z":
        return True
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    return False


def stop(state: Path | None = None) -> BrokerInfo | None:
    """Stop the recorded broker by its pid; returns what was stopped, or None if nothing ran."""
    home = broker_home(state)
    info = _read_info(home)
    if info is None or not _is_our_broker(info):
        return None
    _terminate(info.pid)
    return info


@contextlib.contextmanager
def running(state: Path, *, topics: dict[str, int] | None = None) -> Iterator[BrokerInfo]:
    """Start a broker for the duration of a ``with`` block and always stop it afterwards."""
    info = start(state, topics=topics)
    try:
        yield info
    finally:
        stop(state)
