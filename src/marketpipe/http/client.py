"""The one HTTP client: per-provider timeouts, authentication added at send time, one attempt per call.

Retries, key rotation and quota accounting live in :mod:`marketpipe.engine.session`, because every
retry is a call that must reserve budget first. This module only turns an :class:`ApiRequest` plus a
secret into a :class:`Reply`, mapping network failures to :class:`TransientError`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from marketpipe.http.errors import TransientError
from marketpipe.http.types import ApiRequest, Reply
from marketpipe.redaction import install_log_redaction, redact, redact_url

log = logging.getLogger("marketpipe.http")

#: Same-host redirects followed per call (a loop beyond this is answered as the last 3xx).
MAX_REDIRECTS = 5
USER_AGENT = "marketpipe/0.1 (+https://github.com/marketpipe; data collection)"


@dataclass(frozen=True)
class Auth:
    """Where a provider wants its key: a query parameter or a header (with an optional prefix)."""

    query_param: str | None = None
    header: str | None = None
    header_prefix: str = ""

    @property
    def required(self) -> bool:
        return bool(self.query_param or self.header)

    def apply(self, secret: str | None) -> tuple[dict[str, str], dict[str, str]]:
        """(extra params, extra headers) carrying ``secret``."""
        if not secret:
            return {}, {}
        if self.query_param:
            return {self.query_param: secret}, {}
        if self.header:
            return {}, {self.header: f"{self.header_prefix}{secret}"}
        return {}, {}


NO_AUTH = Auth()


class HttpClient:
    """A pooled ``httpx.Client`` per process; timeouts are given per call (per provider)."""

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        install_log_redaction()
        self._client = httpx.Client(
            transport=transport,
            headers={"User-Agent": USER_AGENT},
            # Redirects are followed here, and only within the requested host (see send).
            follow_redirects=False,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(
        self,
        base_url: str,
        request: ApiRequest,
        *,
        auth: Auth = NO_AUTH,
        secret: str | None = None,
        timeout_s: float = 20.0,
    ) -> Reply:
        """Send ``request`` once; network failures raise :class:`TransientError` (key-free text)."""
        extra_params, extra_headers = auth.apply(secret)
        params: Mapping[str, str] = {**request.params, **extra_params}
        headers = {**request.headers, **extra_headers}
        url = base_url.rstrip("/") + request.path if request.path else base_url
        started = time.monotonic()
        try:
            response = self._client.get(url, params=params, headers=headers, timeout=timeout_s)
            origin = response.request.url
            for _ in range(MAX_REDIRECTS):
                if not response.is_redirect:
                    break
                target = origin.join(response.headers.get("location", ""))
                if (target.scheme, target.host, target.port) != (origin.scheme, origin.host, origin.port):
                    # Never follow a redirect to another host: its body is not the provider's answer,
                    # and the request (with a key in a header or the query) must not travel there.
                    elapsed = time.monotonic() - started
                    where = redact_url(str(target.copy_with(query=None)))
                    log.warning("%s: redirect to another host refused (%s)", request.describe(), where)
                    return Reply(
                        status=response.status_code,
                        headers={k.lower(): v for k, v in response.headers.items()},
                        text=f"redirect to another host refused: {where}",
                        url=redact(str(origin), [secret] if secret else ()),
                        elapsed_s=elapsed,
                    )
                response = self._client.get(target, headers=headers, timeout=timeout_s)
            text = response.text
        except httpx.TimeoutException as exc:
            raise TransientError(
                request.provider, f"timeout after {timeout_s:.0f}s ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            message = redact(str(exc), [secret] if secret else ())
            raise TransientError(
                request.provider, f"network error: {type(exc).__name__}: {message}"
            ) from None
        elapsed = time.monotonic() - started
        safe_url = redact(str(response.request.url), [secret] if secret else ())
        log.debug("%s -> %s in %.3fs", request.describe(), response.status_code, elapsed)
        return Reply(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            text=text,
            url=safe_url,
            elapsed_s=elapsed,
        )
