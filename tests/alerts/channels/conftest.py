"""Fixtures for the channel tests: notifications, a self-signed TLS certificate and
odd sockets. The real SMTP server fixture (``start_smtp``) lives in
``tests/alerts/conftest.py``; pytest-httpserver provides ``httpserver``."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from alerts.notification import Notification

HOSTILE = "<!channel> <@U1> <http://evil|click>"


@pytest.fixture
def make_notification() -> Callable[..., Notification]:
    """Build a firing, critical dataset-drift notification; keywords override fields."""

    def make(**overrides: Any) -> Notification:
        start = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
        fields: dict[str, Any] = {
            "rule": "fraud-data-drift",
            "model": "fraud",
            "model_version": "2026.02.1",
            "feature": None,
            "metric": "dataset_drift_share",
            "value": 0.42,
            "condition": "> 0.3",
            "severity": "critical",
            "state": "firing",
            "event": "firing",
            "window_start": start,
            "window_end": start + timedelta(hours=1),
            "first_breach_at": start - timedelta(hours=1),
            "dashboard_url": "https://driftwatch.example.com/model?name=fraud",
            "idempotency_key": "fraud-data-drift.fraud.2026-03-01T10.firing",
            "details": {"drifted_features": ["amount", "country"], "drift_share_threshold": 0.5},
        }
        fields.update(overrides)
        return Notification(**fields)

    return make


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port whose listener accepts TCP connections but never says a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only this self-signed certificate."""
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate for localhost and 127.0.0.1, made with cryptography."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    files = TlsFiles(cert=folder / "cert.pem", key=folder / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files
