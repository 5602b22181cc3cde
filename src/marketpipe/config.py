"""All marketpipe settings in one place.

Values come from the environment (prefix ``MARKETPIPE_``) or a ``.env`` file. API keys are lists of
secrets per provider (``MARKETPIPE_ALPHA_VANTAGE_KEYS=k1,k2``); they never appear in ``repr``, logs,
exception messages or the database.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ProviderName = Literal[
    "alpha_vantage",
    "finnhub",
    "fred",
    "newsapi",
    "fmp",
    "x",
    "truth_social",
    "bithumb",
    "coingecko",
    "sp500_list",
]

PROVIDERS: tuple[ProviderName, ...] = (
    "alpha_vantage",
    "finnhub",
    "fred",
    "newsapi",
    "fmp",
    "x",
    "truth_social",
    "bithumb",
    "coingecko",
    "sp500_list",
)

#: The real providers' base URLs (spec/provider-apis.md §0).
REAL_BASE_URLS: dict[str, str] = {
    "alpha_vantage": "https://www.alphavantage.co",
    "finnhub": "https://finnhub.io/api/v1",
    "finnhub_ws": "wss://ws.finnhub.io",
    "fred": "https://api.stlouisfed.org/fred",
    "newsapi": "https://newsapi.org/v2",
    "fmp": "https://financialmodelingprep.com/stable",
    "x": "https://api.x.com/2",
    "truth_social": "https://truthsocial.com/api",
    "bithumb": "https://api.bithumb.com",
    "coingecko": "https://api.coingecko.com/api/v3",
    "sp500_list": "https://en.wikipedia.org/wiki/List_of_S%26P_500_companies",
}

#: Where each provider lives under the sandbox's root URL. The sandbox mirrors the real path layout
#: below these prefixes, so switching to real providers changes base URLs and keys only.
SANDBOX_PREFIXES: dict[str, str] = {
    "alpha_vantage": "/alphavantage",
    "finnhub": "/finnhub/api/v1",
    "finnhub_ws": "/finnhub/ws",
    "fred": "/fred/fred",
    "newsapi": "/newsapi/v2",
    "fmp": "/fmp/stable",
    "x": "/x/2",
    "truth_social": "/truthsocial/api",
    "bithumb": "/bithumb",
    "coingecko": "/coingecko/api/v3",
    "sp500_list": "/wikipedia/wiki/List_of_S%26P_500_companies",
}

SecretList = Annotated[list[SecretStr], NoDecode]


def _split_secrets(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [SecretStr(part.strip()) for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """marketpipe configuration. Unset URLs mean "start the embedded service"."""

    model_config = SettingsConfigDict(
        env_prefix="MARKETPIPE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Field(default=Path(".marketpipe"), description="Where embedded services keep data.")
    database_url: SecretStr | None = Field(default=None, description="PostgreSQL URL; unset = embedded.")
    redis_url: SecretStr | None = Field(default=None, description="Redis URL; unset = embedded.")
    kafka_bootstrap: str | None = Field(default=None, description="Kafka bootstrap servers; unset = local.")
    kafka_flavour: Literal["apache", "tansu"] = Field(
        default="apache", description="Which local broker `up --kafka` starts when no bootstrap is set."
    )

    sandbox: bool = Field(default=False, description="Talk to the local simulator instead of real APIs.")
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8765

    # Per-provider key pools (comma separated in the environment).
    alpha_vantage_keys: SecretList = Field(default_factory=list)
    finnhub_keys: SecretList = Field(default_factory=list)
    fred_keys: SecretList = Field(default_factory=list)
    newsapi_keys: SecretList = Field(default_factory=list)
    fmp_keys: SecretList = Field(default_factory=list)
    x_keys: SecretList = Field(default_factory=list)
    truth_social_keys: SecretList = Field(default_factory=list)
    coingecko_keys: SecretList = Field(default_factory=list)

    # Per-provider base URL overrides (e.g. MARKETPIPE_BASE_URLS='{"fred": "http://..."}').
    base_urls: dict[str, str] = Field(default_factory=dict)

    http_timeout_s: float = 20.0
    max_quota_wait_s: float = 65.0

    _split = field_validator(
        "alpha_vantage_keys",
        "finnhub_keys",
        "fred_keys",
        "newsapi_keys",
        "fmp_keys",
        "x_keys",
        "truth_social_keys",
        "coingecko_keys",
        mode="before",
    )(_split_secrets)

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.sandbox_host}:{self.sandbox_port}"

    def base_url(self, provider: str) -> str:
        """The base URL marketpipe uses for ``provider`` (override > sandbox > real)."""
        if provider in self.base_urls:
            return self.base_urls[provider].rstrip("/")
        if self.sandbox:
            root = self.sandbox_url
            if provider == "finnhub_ws":
                root = root.replace("http://", "ws://", 1)
            return root + SANDBOX_PREFIXES[provider]
        return REAL_BASE_URLS[provider]

    def keys(self, provider: str) -> list[SecretStr]:
        """The key pool for ``provider`` (empty for providers without auth)."""
        value = getattr(self, f"{provider}_keys", None)
        return list(value) if value else []

    @property
    def run_dir(self) -> Path:
        """Pid files, sockets and logs of the embedded services."""
        return self.data_dir / "run"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()
