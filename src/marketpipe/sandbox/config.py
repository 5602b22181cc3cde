"""How a sandbox instance is configured (seed, clock, quotas, keys)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from marketpipe.sandbox.quota import QuotaWindow


class SandboxConfig(BaseModel):
    """Everything that makes one sandbox run reproducible.

    The same seed and start time give the same world, the same replies and the same fault pattern.
    """

    seed: int = 42
    start_time: datetime | None = Field(
        default=None, description="Simulated now at start-up (aware UTC); None = the real current time."
    )
    clock_rate: float = Field(
        default=1.0, ge=0.0, description="Simulated seconds per real second; 0 = frozen."
    )
    quotas_enabled: bool = Field(default=True, description="Switch all quotas off (benchmarks).")
    quota_overrides: dict[str, list[QuotaWindow]] = Field(
        default_factory=dict, description="Per provider, windows that replace the published defaults."
    )
    disabled_quota_providers: set[str] = Field(default_factory=set)
    valid_keys: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "Per provider, the only keys accepted. A provider not listed accepts any non-empty key "
            "that does not start with 'invalid' and is not revoked."
        ),
    )
    revoked_keys: dict[str, list[str]] = Field(default_factory=dict)
