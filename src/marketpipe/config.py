"""All marketpipe settings in one place.

Values come from the environment (prefix ``MARKETPIPE_``) or a ``.env`` file. API keys are lists of
secrets per provider (``MARKETPIPE_ALPHA_VANTAGE_KEYS=k1,k2``); they never appear in ``repr``, logs,
exception messages or the database.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, create_model, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from marketpipe.providers.catalogue import key_settings, provider_names, real_base_urls, sandbox_prefixes

#: Every provider marketpipe knows, in listing order (from the provider catalogue).
PROVIDERS: tuple[str, ...] = provider_names()

#: The real providers' base URLs (docs/providers.md §0), from each provider's declaration.
REAL_BASE_URLS: dict[str, str] = real_base_urls()

#: Where each provider lives under the sandbox's root URL. The sandbox mirrors the real path layout
#: below these prefixes, so switching to real providers changes base URLs and keys only.
SANDBOX_PREFIXES: dict[str, str] = sandbox_prefixes()


def _split_secrets(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [SecretStr(part.strip()) for part in value.split(",") if part.strip()]
    return value


SecretList = Annotated[list[SecretStr], NoDecode, BeforeValidator(_split_secrets)]

if TYPE_CHECKING:
    _KeyPools = BaseSettings
else:
    # Per-provider key pools (comma separated in the environment): one field ``<name>_keys`` per
    # provider of the catalogue that takes keys, read from ``MARKETPIPE_<NAME>_KEYS`` or ``.env``.
    _KeyPools = create_model(
        "_KeyPools",
        __base__=BaseSettings,
        **{field: (SecretList, Field(default_factory=list)) for field in key_settings().values()},
    )


class Settings(_KeyPools):
    """marketpipe configuration. Unset URLs mean "start the embedded service"."""

    model_config = SettingsConfigDict(
        env_prefix="MARKETPIPE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # A validation error must not echo its input: that is every setting, keys and passwords too.
        hide_input_in_errors=True,
    )

    data_dir: Path = Field(default=Path(".marketpipe"), description="Where embedded services keep data.")
    database_url: SecretStr | None = Field(default=None, description="PostgreSQL URL; unset = embedded.")
    redis_url: SecretStr | None = Field(default=None, description="Redis URL; unset = embedded.")
    kafka_bootstrap: str | None = Field(default=None, description="Kafka bootstrap servers; unset = local.")
    kafka_flavour: Literal["apache", "tansu"] = Field(
        default="apache", description="Which local broker `up --kafka` starts when no bootstrap is set."
    )
    # How every Kafka client (producers, sinks, admin) authenticates to the brokers. The default talks
    # PLAINTEXT, as the local broker does; a Strimzi cluster with a `scram-sha-512` TLS listener wants
    # SASL_SSL + SCRAM-SHA-512, the KafkaUser's name and the password from its Secret, and the cluster
    # CA (`<cluster>-cluster-ca-cert`, key `ca.crt`) as the CA file.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="Kafka security.protocol of every client."
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism (with a SASL_* protocol)."
    )
    kafka_username: str | None = Field(default=None, description="SASL user name (a Strimzi KafkaUser).")
    kafka_password: SecretStr | None = Field(default=None, description="SASL password (never logged).")
    kafka_ssl_ca_location: Path | None = Field(
        default=None, description="CA certificate file (PEM) the brokers' certificates are checked against."
    )

    sandbox: bool = Field(default=False, description="Talk to the local simulator instead of real APIs.")
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8765

    # Per-provider base URL overrides (e.g. MARKETPIPE_BASE_URLS='{"fred": "http://..."}').
    base_urls: dict[str, str] = Field(default_factory=dict)

    http_timeout_s: float = 20.0
    max_quota_wait_s: float = 65.0

    @model_validator(mode="after")
    def _kafka_security_is_whole(self) -> Settings:
        """Refuse half a Kafka security setup instead of silently connecting without it."""
        protocol = self.kafka_security_protocol
        sasl = protocol.startswith("SASL_")
        if sasl and not (
            self.kafka_username and self.kafka_password and self.kafka_password.get_secret_value()
        ):
            raise ValueError(
                f"MARKETPIPE_KAFKA_SECURITY_PROTOCOL={protocol} needs MARKETPIPE_KAFKA_USERNAME and "
                "MARKETPIPE_KAFKA_PASSWORD"
            )
        if not sasl and (self.kafka_username or self.kafka_password):
            raise ValueError(
                "MARKETPIPE_KAFKA_USERNAME/PASSWORD are set but MARKETPIPE_KAFKA_SECURITY_PROTOCOL is "
                f"{protocol}: set it to SASL_SSL (or SASL_PLAINTEXT) so the credentials are used"
            )
        if self.kafka_ssl_ca_location is not None and not protocol.endswith("SSL"):
            raise ValueError(
                f"MARKETPIPE_KAFKA_SSL_CA_LOCATION is set but MARKETPIPE_KAFKA_SECURITY_PROTOCOL is {protocol}: "
                "use SSL or SASL_SSL"
            )
        return self

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.sandbox_host}:{self.sandbox_port}"

    def base_url(self, provider: str) -> str:
        """The base URL marketpipe uses for ``provider`` (override > sandbox > real)."""
        if provider in self.base_urls:
            return self.base_urls[provider].rstrip("/")
        if self.sandbox:
            root = self.sandbox_url
            if REAL_BASE_URLS[provider].startswith("wss://"):
                root = root.replace("http://", "ws://", 1)
            return root + SANDBOX_PREFIXES[provider]
        return REAL_BASE_URLS[provider]

    def keys(self, provider: str) -> list[SecretStr]:
        """The key pool for ``provider`` (empty for providers without auth)."""
        value = getattr(self, f"{provider}_keys", None)  # the field of Provider.key_setting
        return list(value) if value else []

    @property
    def run_dir(self) -> Path:
        """Pid files, sockets and logs of the embedded services."""
        return self.data_dir / "run"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()
