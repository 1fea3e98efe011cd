"""A real single-node Apache Kafka (KRaft) broker for the demo, the tests and CI.

Kafka is assembled from Maven Central jars (no Docker, no Apache mirrors), cached
under ``~/.cache/driftwatch/kafka-<version>``, formatted into a fresh data dir and
started on free loopback ports. Usage::

    python scripts/local_kafka.py start [--dir DIR]   # prints bootstrap servers
    python scripts/local_kafka.py stop  [--dir DIR]
    python scripts/local_kafka.py status [--dir DIR]
    python scripts/local_kafka.py fetch               # download the jars only

Tests import :class:`LocalKafka` directly.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
CACHE_ROOT = Path(os.environ.get("DRIFTWATCH_CACHE", Path.home() / ".cache" / "driftwatch"))
DEFAULT_DIR = Path(os.environ.get("DRIFTWATCH_KAFKA_DIR", Path.cwd() / ".local" / "kafka"))

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>driftwatch</groupId><artifactId>local-kafka</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId><version>{log4j}</version></dependency>
  </dependencies>
</project>
"""

_LOG4J = """status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.stdout.ref = STDOUT
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = info
"""


class KafkaSetupError(RuntimeError):
    """The local broker could not be fetched, formatted or started."""


def fetch_jars(version: str = KAFKA_VERSION) -> Path:
    """Download Kafka and its runtime dependencies once; return the jar folder."""
    libs = CACHE_ROOT / f"kafka-{version}" / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        raise KafkaSetupError("Maven (mvn) is not installed: run `apt-get install -y maven`.")
    if shutil.which("java") is None:
        raise KafkaSetupError("Java is not installed: run `apt-get install -y openjdk-17-jre-headless`.")
    libs.mkdir(parents=True, exist_ok=True)
    pom = libs.parent / "pom.xml"
    pom.write_text(_POM.format(kafka=version, log4j=LOG4J_VERSION))
    cmd = [
        "mvn", "-B", "-q", "-f", str(pom), f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={libs}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise KafkaSetupError(
            f"fetching Kafka {version} from Maven Central failed (exit {result.returncode}):\n"
            f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    marker.write_text(version)
    return libs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalKafka:
    """One broker+controller process with its own data dir and ports."""

    base_dir: Path
    port: int = 0
    controller_port: int = 0
    log_level: str = "WARN"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def state_file(self) -> Path:
        return self.base_dir / "state.json"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "kafka.log"

    def _write_config(self) -> Path:
        data = self.base_dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        props = self.base_dir / "server.properties"
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "inter.broker.listener.name=PLAINTEXT",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={data}",
                    "num.partitions=1",
                    "default.replication.factor=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    "message.max.bytes=8388608",
                    "",
                ]
            )
        )
        (self.base_dir / "log4j2.properties").write_text(_LOG4J.format(level=self.log_level))
        return props

    def _java(self, libs: Path, *args: str) -> list[str]:
        return [
            "java", "-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.base_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.base_dir / 'logs'}",
            "-cp", f"{libs}/*", *args,
        ]

    def start(self, timeout_s: float = 90.0) -> str:
        """Format (first time) and start the broker; return the bootstrap address."""
        libs = fetch_jars()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self.is_running():
            return self.bootstrap
        formatted = (self.base_dir / "data" / "meta.properties").exists()
        if not formatted:
            self.port = self.port or free_port()
            self.controller_port = self.controller_port or free_port()
        else:
            self._load_ports()
        props = self._write_config()
        if not formatted:
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            fmt = subprocess.run(
                self._java(libs, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                           f"--config={props}"),
                capture_output=True, text=True, check=False,
            )
            if fmt.returncode != 0:
                raise KafkaSetupError(f"formatting the KRaft data dir failed:\n{fmt.stdout}{fmt.stderr}")
        log = self.log_file.open("ab")
        proc = subprocess.Popen(
            self._java(libs, "kafka.Kafka", str(props)),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.state_file.write_text(
            json.dumps({"pid": proc.pid, "port": self.port, "controller_port": self.controller_port})
        )
        self.wait_ready(timeout_s, proc)
        return self.bootstrap

    def _load_ports(self) -> None:
        state = json.loads(self.state_file.read_text())
        self.port = int(state["port"])
        self.controller_port = int(state["controller_port"])

    def pid(self) -> int | None:
        if not self.state_file.exists():
            return None
        return int(json.loads(self.state_file.read_text()).get("pid") or 0) or None

    def is_running(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().split()[2] == "Z":
            return False
        self._load_ports()
        return True

    def wait_ready(self, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
        from kafka import KafkaAdminClient  # imported late: `fetch` needs no client

        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise KafkaSetupError(
                    f"the broker exited with {proc.returncode}; log: {self.log_file}\n"
                    + self.log_file.read_text(errors="replace")[-3000:]
                )
            try:
                admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000)
                admin.list_topics()
                admin.close()
                return
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
                last = exc
                time.sleep(0.5)
        raise KafkaSetupError(f"the broker did not answer within {timeout_s}s ({last}); log: {self.log_file}")

    def stop(self, *, kill: bool = False, timeout_s: float = 30.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        try:
            os.killpg(pid, signal.SIGKILL if kill else signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                _reap(pid)
            except ProcessLookupError:
                return
            time.sleep(0.2)
        os.killpg(pid, signal.SIGKILL)
        _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop", "status", "fetch"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--fresh", action="store_true", help="delete the data dir first")
    args = parser.parse_args(argv)
    broker = LocalKafka(base_dir=args.dir)
    try:
        if args.action == "fetch":
            print(fetch_jars())
        elif args.action == "start":
            if args.fresh and args.dir.exists():
                broker.stop(kill=True)
                shutil.rmtree(args.dir)
            print(broker.start())
        elif args.action == "stop":
            broker.stop()
        elif args.action == "status":
            if broker.is_running():
                print(f"running pid={broker.pid()} bootstrap={broker.bootstrap}")
            else:
                print("stopped")
                return 1
    except KafkaSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
