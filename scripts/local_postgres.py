"""A real throw-away PostgreSQL server for the tests, CI and benchmarks.

Uses Debian's ``postgresql`` package (installed with apt-get when missing). The
server refuses to run as root, so when we are root it runs as the ``postgres``
user through ``runuser``. Usage::

    python scripts/local_postgres.py start [--dir DIR]   # prints the SQLAlchemy URL
    python scripts/local_postgres.py stop  [--dir DIR]
    python scripts/local_postgres.py install

Tests import :class:`LocalPostgres` directly (and stop/start it for outage tests).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Under /tmp, not the checkout: the server runs as `postgres`, which may not be able
# to enter a checkout under /root.
DEFAULT_DIR = Path(os.environ.get("DRIFTWATCH_PG_DIR", Path(tempfile.gettempdir()) / "driftwatch-postgres"))


class PostgresSetupError(RuntimeError):
    """PostgreSQL could not be installed, initialised or started."""


def find_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def install() -> Path:
    """Return the server's bin dir, installing Debian's package first if needed."""
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    if os.geteuid() != 0:
        raise PostgresSetupError("PostgreSQL is not installed: run `sudo apt-get install -y postgresql`.")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "postgresql"]):
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise PostgresSetupError(f"{' '.join(cmd)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    bindir = find_bindir()
    if bindir is None:
        raise PostgresSetupError("apt-get installed postgresql but no initdb was found under /usr/lib/postgresql")
    return bindir


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalPostgres:
    """One PostgreSQL cluster in ``base_dir``, listening on 127.0.0.1:``port``."""

    base_dir: Path
    port: int = 0
    database: str = "driftwatch"
    user: str = "driftwatch"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def state_file(self) -> Path:
        return self.base_dir / "state.json"

    def _as_server_user(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd

    def _run(self, cmd: list[str]) -> str:
        result = subprocess.run(self._as_server_user(cmd), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PostgresSetupError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        return result.stdout

    def start(self, timeout_s: float = 60.0) -> str:
        bindir = install()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self.state_file.exists():
            self.port = int(json.loads(self.state_file.read_text())["port"])
        self.port = self.port or _free_port()
        fresh = not (self.data_dir / "PG_VERSION").exists()
        if fresh:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.base_dir, "postgres")
                shutil.chown(self.data_dir, "postgres")
            self._run([str(bindir / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U", "postgres",
                       "-E", "UTF8", "--locale=C.UTF-8"])
        self.state_file.write_text(json.dumps({"port": self.port}))
        if not self.is_running():
            log = self.base_dir / "postgres.log"
            if os.geteuid() == 0:
                log.touch()
                shutil.chown(log, "postgres")
            opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base_dir} "
                    "-c fsync=on -c max_connections=100 -c shared_buffers=128MB")
            self._run([str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(log), "-o", opts,
                       "-w", "-t", str(int(timeout_s)), "start"])
        self.wait_ready(timeout_s)
        if fresh:
            self._psql(f"CREATE ROLE {self.user} LOGIN SUPERUSER")
            self._psql(f"CREATE DATABASE {self.database} OWNER {self.user}")
        return self.url

    def _psql(self, sql: str, database: str = "postgres") -> str:
        return self._run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
                          "-v", "ON_ERROR_STOP=1", "-Atc", sql])

    def create_database(self, name: str) -> str:
        """Create (or re-create) an empty database and return its URL."""
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._psql(f'CREATE DATABASE "{name}" OWNER {self.user}')
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{name}"

    def is_running(self) -> bool:
        bindir = find_bindir()
        if bindir is None or not (self.data_dir / "PG_VERSION").exists():
            return False
        result = subprocess.run(self._as_server_user([str(bindir / "pg_ctl"), "-D", str(self.data_dir), "status"]),
                                capture_output=True, text=True, check=False)
        return result.returncode == 0

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                self._psql("SELECT 1")
                return
            except (OSError, PostgresSetupError):
                time.sleep(0.3)
        raise PostgresSetupError(f"PostgreSQL on port {self.port} did not become ready in {timeout_s}s")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode``: smart, fast or immediate)."""
        bindir = find_bindir()
        if bindir is None or not self.is_running():
            return
        self._run([str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop", "status", "install"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    server = LocalPostgres(base_dir=args.dir)
    try:
        if args.action == "install":
            print(install())
        elif args.action == "start":
            print(server.start())
        elif args.action == "stop":
            server.stop()
        elif args.action == "status":
            if not server.is_running():
                print("stopped")
                return 1
            server.port = int(json.loads(server.state_file.read_text())["port"])
            print(f"running {server.url}")
    except PostgresSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
