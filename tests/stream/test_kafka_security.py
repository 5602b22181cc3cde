"""Kafka client security as deployed: SASL_SSL + SCRAM-SHA-512 users with the KafkaUser ACLs.

A real broker gets what Strimzi would configure from deploy/k8s (kafka/kafka.yaml, kafka/users.yaml):
a TLS listener (a certificate from a throwaway CA) with SCRAM-SHA-512, the StandardAuthorizer, one
SCRAM user per KafkaUser and exactly its ``acls`` as Kafka ACLs (what the User Operator does). A
PLAINTEXT listener stays for the test itself, as the super user (the operators' role). Then the real
``marketpipe stream produce`` and ``stream sink`` processes run with the settings the pods get
(base/config.yaml's marketpipe-kafka-client ConfigMap plus a user and its password), so these tests
prove the deployed ACLs are enough for the real clients — and that they refuse everything else.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from marketpipe.config import Settings
from marketpipe.runtime.kafka import ApacheKafkaBroker, KafkaRuntimeError, free_port
from marketpipe.stream import topics
from marketpipe.stream.bus import client_security
from plugins._producerkit import read_topic
from plugins._streamkit import healthz
from plugins.kafka import _warm_up_idempotence

REPO = Path(__file__).resolve().parents[2]
USERS_YAML = REPO / "deploy" / "k8s" / "kafka" / "users.yaml"
CONFIG_YAML = REPO / "deploy" / "k8s" / "base" / "config.yaml"


@dataclass(frozen=True)
class SecureKafka:
    admin_bootstrap: str  # PLAINTEXT, the super user
    bootstrap: str  # SASL_SSL, the deployed users
    ca: Path
    passwords: dict[str, str]

    def settings(self, user: str, password: str | None = None) -> dict[str, str]:
        """The environment a pod of ``user`` gets: the kafka-client ConfigMap (CA path swapped for
        this test's CA file), its user name and the password from its KafkaUser's Secret."""
        env = dict(_client_config_map())
        env["MARKETPIPE_KAFKA_SSL_CA_LOCATION"] = str(self.ca)
        env["MARKETPIPE_KAFKA_BOOTSTRAP"] = self.bootstrap
        env["MARKETPIPE_KAFKA_USERNAME"] = user
        env["MARKETPIPE_KAFKA_PASSWORD"] = self.passwords[user] if password is None else password
        return env

    def client(self, user: str, **extra: Any) -> dict[str, Any]:
        """An in-process client configuration of ``user``, through marketpipe's own mapping."""
        env = self.settings(user)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            kafka_bootstrap=env["MARKETPIPE_KAFKA_BOOTSTRAP"],
            kafka_security_protocol=env["MARKETPIPE_KAFKA_SECURITY_PROTOCOL"],
            kafka_sasl_mechanism=env["MARKETPIPE_KAFKA_SASL_MECHANISM"],
            kafka_username=user,
            kafka_password=env["MARKETPIPE_KAFKA_PASSWORD"],
            kafka_ssl_ca_location=Path(env["MARKETPIPE_KAFKA_SSL_CA_LOCATION"]),
        )
        return {"bootstrap.servers": self.bootstrap, **client_security(settings), **extra}


def _client_config_map() -> dict[str, str]:
    docs = [d for d in yaml.safe_load_all(CONFIG_YAML.read_text()) if d]
    (config,) = [d for d in docs if d["metadata"]["name"] == "marketpipe-kafka-client"]
    return dict(config["data"])


def _kafka_users() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in yaml.safe_load_all(USERS_YAML.read_text()) if d}


def _acl_bindings(users: dict[str, dict[str, Any]]) -> list[AclBinding]:
    """The Kafka ACLs Strimzi's User Operator creates for these KafkaUsers (host ``*``)."""
    kinds = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER}
    patterns = {"literal": ResourcePatternType.LITERAL, "prefix": ResourcePatternType.PREFIXED}
    out = []
    for name, user in users.items():
        for acl in user["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            for op in acl["operations"]:
                out.append(
                    AclBinding(
                        kinds[resource["type"]],
                        resource.get("name", "kafka-cluster"),
                        patterns[resource.get("patternType", "literal")],
                        f"User:{name}",
                        acl.get("host", "*"),
                        AclOperation[_snake(op)],
                        AclPermissionType.ALLOW
                        if acl.get("type", "allow") == "allow"
                        else AclPermissionType.DENY,
                    )
                )
    return out


def _snake(op: str) -> str:
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(op)).upper()


def _write_certificates(directory: Path) -> tuple[Path, Path]:
    """A throwaway CA and a broker certificate for 127.0.0.1 (PEM: the CA file, the broker's key store)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "marketpipe-test-cluster-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_file = directory / "ca.crt"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    store = directory / "broker.pem"  # Kafka's PEM key store: the private key (PKCS#8), then the chain
    store.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + cert.public_bytes(serialization.Encoding.PEM)
        + ca.public_bytes(serialization.Encoding.PEM)
    )
    return ca_file, store


@pytest.fixture(scope="module")
def secure_kafka(
    kafka_broker: ApacheKafkaBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecureKafka]:
    work = tmp_path_factory.mktemp("kafka-sasl")
    ca, store = _write_certificates(work / "tls")
    plain, controller, sasl = free_port(), free_port(), free_port()
    broker = ApacheKafkaBroker(
        work_dir=work / "broker",
        libs_dir=kafka_broker.libs_dir,
        port=plain,
        controller_port=controller,
        heap="384m",
        extra_config={
            "listeners": f"PLAINTEXT://127.0.0.1:{plain},CONTROLLER://127.0.0.1:{controller},"
            f"SASL_SSL://127.0.0.1:{sasl}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{plain},SASL_SSL://127.0.0.1:{sasl}",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL",
            "listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "listener.name.sasl_ssl.ssl.keystore.type": "PEM",
            "listener.name.sasl_ssl.ssl.keystore.location": str(store),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            # The PLAINTEXT and controller listeners' principal: the operators' (and this test's) role.
            "super.users": "User:ANONYMOUS",
            "allow.everyone.if.no.acl.found": "false",
        },
    )
    try:
        broker.start(timeout=180)
        _warm_up_idempotence(broker.bootstrap)
    except KafkaRuntimeError as exc:
        pytest.fail(f"a SASL_SSL Kafka broker is required and could not start: {exc}")
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        users = _kafka_users()
        passwords = {name: secrets.token_urlsafe(24) for name in users}
        upserts = [
            UserScramCredentialUpsertion(
                name, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), pw.encode()
            )
            for name, pw in passwords.items()
        ]
        for future in admin.alter_user_scram_credentials(upserts).values():
            future.result(30)
        for future in admin.create_acls(_acl_bindings(users)).values():
            future.result(30)
        # The topics as the Topic Operator creates them (kafka/topics.yaml), before any client runs.
        names = [
            topics.SP500_TRADES,
            topics.FINNHUB_TRADES,
            topics.BITHUMB_TICKER,
            topics.ETF_TRADES,
            topics.DLQ,
        ]
        for future in admin.create_topics([NewTopic(n, 1, 1) for n in names]).values():
            future.result(30)
        yield SecureKafka(broker.bootstrap, f"127.0.0.1:{sasl}", ca, passwords)
    finally:
        broker.stop(timeout=30)


def _env(sandbox: Any, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETPIPE_KAFKA", "MARKETPIPE_STREAM"))}
    env.update(
        {
            "MARKETPIPE_SANDBOX": "true",
            "MARKETPIPE_SANDBOX_PORT": str(sandbox.port),
            "MARKETPIPE_DATA_DIR": str(tmp_path / "data"),
            "COLUMNS": "400",
            **extra,
        }
    )
    return env


def _run(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marketpipe", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _finished(out: str) -> dict[str, str]:
    (final,) = [line for line in out.splitlines() if line.startswith("finished ")]
    return dict(pair.split("=", 1) for pair in final.split()[1:])


def test_the_real_producer_and_sink_run_under_the_deployed_users_and_acls(
    secure_kafka: SecureKafka, sandbox: Any, pg_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    producer_user, sink_user = "marketpipe-bithumb-producer", "marketpipe-sink"
    produced = _run(
        [
            "stream",
            "produce",
            "bithumb",
            "--markets",
            "KRW-BTC,KRW-ETH",
            "--interval",
            "0.5",
            "--max-seconds",
            "3",
        ],
        _env(sandbox, tmp_path, **secure_kafka.settings(producer_user)),
        tmp_path,
    )
    assert produced.returncode == 0, produced.stderr[-3000:]
    delivered = int(_finished(produced.stdout)["delivered"])
    assert delivered >= 2
    # One hostile record in the same topic: the sink must be allowed to write it to the DLQ.
    hostile = Producer({"bootstrap.servers": secure_kafka.admin_bootstrap})
    hostile.produce(topics.BITHUMB_TICKER, key=b"KRW-BTC", value=b"\x00not json\xff")
    assert hostile.flush(30) == 0

    sunk = _run(
        ["stream", "sink", "crypto", "--no-create-topics", "--idle-exit", "6"],
        _env(sandbox, tmp_path, MARKETPIPE_DATABASE_URL=pg_dsn, MARKETPIPE_REDIS_URL=redis_url,
             **secure_kafka.settings(sink_user)),
        tmp_path,
    )  # fmt: skip
    assert sunk.returncode == 0, sunk.stderr[-3000:]
    assert f"sink crypto: {delivered + 1} messages, {delivered} rows, 1 to the DLQ" in sunk.stdout
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM bithumb_ticker").fetchone() == (delivered,)
    (letter,) = read_topic(secure_kafka.admin_bootstrap, topics.DLQ, 1)
    assert letter.value() == b"\x00not json\xff"
    # The group's offsets were committed under the sink's user (Read on its group).
    check = Consumer(
        {"bootstrap.servers": secure_kafka.admin_bootstrap, "group.id": "marketpipe-sink.crypto"}
    )
    try:
        (committed,) = check.committed([TopicPartition(topics.BITHUMB_TICKER, 0)], timeout=30)
        assert committed.offset == delivered + 1
    finally:
        check.close()
    for proc, user in ((produced, producer_user), (sunk, sink_user)):
        assert secure_kafka.passwords[user] not in proc.stdout + proc.stderr


def test_a_sink_that_may_not_write_the_dlq_stops_clearly_and_stores_nothing_past_the_bad_record(
    secure_kafka: SecureKafka, sandbox: Any, pg_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    """A sink user without the DLQ grant (e.g. a KafkaUser edited by hand): the first dead letter
    cannot be delivered. Before, the sink died in close() with a traceback that hid the reason."""
    admin = AdminClient({"bootstrap.servers": secure_kafka.admin_bootstrap})
    user, password = f"sink-no-dlq-{uuid.uuid4().hex[:6]}", secrets.token_urlsafe(16)
    upsert = UserScramCredentialUpsertion(
        user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password.encode()
    )
    for future in admin.alter_user_scram_credentials([upsert]).values():
        future.result(30)
    sink_acls = _kafka_users()["marketpipe-sink"]
    sink_acls["spec"]["authorization"]["acls"] = [
        a for a in sink_acls["spec"]["authorization"]["acls"] if a["resource"]["name"] != topics.DLQ
    ]
    for future in admin.create_acls(_acl_bindings({user: sink_acls})).values():
        future.result(30)
    hostile = Producer({"bootstrap.servers": secure_kafka.admin_bootstrap})
    offsets: list[int] = []
    hostile.produce(topics.BITHUMB_TICKER, key=b"KRW-XRP", value=b"[not a ticker]",
                    on_delivery=lambda _err, msg: offsets.append(msg.offset()))  # fmt: skip
    assert hostile.flush(30) == 0
    env = {
        **secure_kafka.settings("marketpipe-sink"),
        "MARKETPIPE_KAFKA_USERNAME": user,
        "MARKETPIPE_KAFKA_PASSWORD": password,
    }
    done = _run(
        [
            "stream",
            "sink",
            "crypto",
            "--no-create-topics",
            "--idle-exit",
            "6",
            "--group",
            "marketpipe-sink.crypto-b",
        ],
        _env(sandbox, tmp_path, MARKETPIPE_DATABASE_URL=pg_dsn, MARKETPIPE_REDIS_URL=redis_url, **env),
        tmp_path,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    assert "error: sink crypto: the writer failed: DeadLetterError" in done.stderr, done.stderr[-3000:]
    assert "authorization failed" in done.stderr.lower()
    assert "Traceback" not in done.stderr and "╭" not in done.stderr
    with psycopg.connect(pg_dsn) as conn:
        stored = conn.execute(
            "SELECT coalesce(max(next_offset), 0) FROM stream_offsets WHERE topic = %s",
            (topics.BITHUMB_TICKER,),
        ).fetchone()
    assert stored is not None and stored[0] <= offsets[0]  # nothing at or past the bad record is stored
    assert password not in done.stdout + done.stderr


def _delivery_error(conf: dict[str, Any], topic: str) -> KafkaError | None:
    errors: list[KafkaError | None] = []
    producer = Producer({**conf, "message.timeout.ms": 15000, "enable.idempotence": False})
    producer.produce(topic, value=b"{}", on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(30)
    assert errors, "no delivery report"
    return errors[0]


def _consume_error(conf: dict[str, Any], topic: str, group: str) -> KafkaError | None:
    consumer = Consumer({**conf, "group.id": group, "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe([topic])
        for _ in range(40):
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is not None:
                return msg.error()
        return None
    finally:
        consumer.close()


def test_the_deployed_acls_refuse_what_a_role_does_not_do(secure_kafka: SecureKafka) -> None:
    producer = secure_kafka.client("marketpipe-bithumb-producer")
    sink = secure_kafka.client("marketpipe-sink")
    # Its own topic: allowed (the control for the refusals below).
    assert _delivery_error(producer, topics.BITHUMB_TICKER) is None
    # Another producer's topic, or a data topic for the sink: refused.
    for conf, topic in ((producer, topics.SP500_TRADES), (sink, topics.BITHUMB_TICKER)):
        err = _delivery_error(conf, topic)
        assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, (topic, err)
    # A producer cannot read, even its own topic; the sink cannot use a group outside its prefix.
    err = _consume_error(producer, topics.BITHUMB_TICKER, "marketpipe-sink.crypto")
    assert err is not None and err.code() in {
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
    }
    err = _consume_error(sink, topics.BITHUMB_TICKER, f"somebody-else-{uuid.uuid4().hex[:6]}")
    assert err is not None and err.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, err
    # Nobody creates topics: the Topic Operator owns them.
    admin = AdminClient(sink)
    (future,) = admin.create_topics([NewTopic("made-by-a-sink", 1, 1)]).values()
    with pytest.raises(KafkaException) as raised:
        future.result(30)
    assert raised.value.args[0].code() in {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    }


def _wait_unhealthy(port: int, proc: subprocess.Popen[str], needle: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the process exited before /healthz said why"
        status, text = healthz(port)
        if status == 503 and needle in text:
            return text
        time.sleep(0.3)
    raise AssertionError(f"/healthz never reported {needle!r}: {healthz(port)}")


def test_a_wrong_password_fails_clearly_and_never_shows_a_password(
    secure_kafka: SecureKafka, sandbox: Any, pg_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    wrong = "Wr0ng-" + secrets.token_urlsafe(12)
    producer_port, sink_port = free_port(), free_port()
    producer = subprocess.Popen(
        [sys.executable, "-m", "marketpipe", "stream", "produce", "bithumb", "--markets", "KRW-BTC",
         "--interval", "0.5", "--max-seconds", "6", "--metrics-port", str(producer_port)],
        env=_env(sandbox, tmp_path, **secure_kafka.settings("marketpipe-bithumb-producer", password=wrong)),
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    sink = subprocess.Popen(
        [sys.executable, "-m", "marketpipe", "stream", "sink", "crypto", "--no-create-topics",
         "--metrics-port", str(sink_port), "--group", "marketpipe-sink.crypto-wrong"],
        env=_env(sandbox, tmp_path, MARKETPIPE_DATABASE_URL=pg_dsn, MARKETPIPE_REDIS_URL=redis_url,
                 **secure_kafka.settings("marketpipe-sink", password=wrong)),
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # Both keep running (librdkafka retries), but neither looks ready: /healthz says why at once.
        for port, proc, needle in ((producer_port, producer, "kafka authentication failed"),
                                   (sink_port, sink, "Kafka authentication failed")):  # fmt: skip
            text = _wait_unhealthy(port, proc, needle)
            assert wrong not in text and "SASL authentication error" in text, text
        sink.send_signal(signal.SIGTERM)
        sink_out, sink_err = sink.communicate(timeout=60)
        out, err = producer.communicate(timeout=120)
    finally:
        for proc in (producer, sink):
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=30)
    assert producer.returncode == 1, (out + err)[-3000:]
    assert "messages were not delivered to Kafka" in err
    everything = out + err + sink_out + sink_err
    assert "SASL authentication error" in everything, everything[-3000:]
    assert wrong not in everything
    assert secure_kafka.passwords["marketpipe-bithumb-producer"] not in everything
    assert secure_kafka.passwords["marketpipe-sink"] not in everything
    # A PLAINTEXT client on the TLS + SCRAM port gets no metadata at all.
    plain = AdminClient(
        {"bootstrap.servers": secure_kafka.bootstrap, "socket.timeout.ms": 2000, "log_level": 0}
    )
    with pytest.raises(KafkaException):
        plain.list_topics(timeout=4)


def test_half_a_security_setup_is_refused_before_any_connection(tmp_path: Path) -> None:
    base = {"_env_file": None, "kafka_bootstrap": "127.0.0.1:1"}
    with pytest.raises(ValueError, match="needs MARKETPIPE_KAFKA_USERNAME and MARKETPIPE_KAFKA_PASSWORD"):
        Settings(**base, kafka_security_protocol="SASL_SSL", kafka_username="u")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="set it to SASL_SSL") as raised:
        Settings(**base, kafka_username="u", kafka_password="s3cret-value", fred_keys="fredkey-123")  # type: ignore[arg-type]
    # A validation error never echoes its input (every setting, keys and passwords included).
    assert "s3cret-value" not in str(raised.value) and "fredkey" not in str(raised.value)
    with pytest.raises(ValueError, match="use SSL or SASL_SSL"):
        Settings(**base, kafka_ssl_ca_location=tmp_path / "ca.crt")  # type: ignore[arg-type]
    missing = Settings(**base, kafka_security_protocol="SSL", kafka_ssl_ca_location=tmp_path / "nope.crt")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no such file"):
        client_security(missing)
    ok = Settings(**base, kafka_security_protocol="SASL_SSL", kafka_username="u", kafka_password="pw-9f3a1c")  # type: ignore[arg-type]
    assert "pw-9f3a1c" not in repr(ok) and "pw-9f3a1c" not in str(ok.model_dump())
    assert client_security(ok) == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "u",
        "sasl.password": "pw-9f3a1c",
    }
    assert client_security(Settings(**base)) == {}  # type: ignore[arg-type]
