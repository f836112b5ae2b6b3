"""One log line per finished call, for the operator who has only the logs.

Logger ``junction.engine.calls`` at INFO, message ``call finished``, with the
call's fields as the record's extras (so ``JUNCTION_LOG_FORMAT=json`` writes
them as keys of the line's object): request id, call id, tenant, the key's
public prefix (never the key), model, operation, deployment, provider,
client protocol, stream, status, HTTP status, error code, latency, time to
first token, tokens, cost and attempts. Never a prompt or an answer: the
record holds none.

Nothing is built when the logger is not enabled for INFO, and nothing at all
with ``JUNCTION_CALL_LOG=off``.
"""

from __future__ import annotations

import logging

from junction_engine.calls import CallRecord

log = logging.getLogger("junction.engine.calls")

#: the fields every line carries (the names of its JSON keys)
FIELDS = (
    "request_id",
    "call_id",
    "tenant_id",
    "token_prefix",
    "model",
    "operation",
    "deployment_id",
    "provider_id",
    "client_protocol",
    "stream",
    "status",
    "http_status",
    "error_code",
    "latency_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cost_usd",
    "attempts",
    "usage_estimated",
    "partial",
)


def log_call(rec: CallRecord) -> None:
    """Write `rec`'s line, when INFO is on for the calls' logger."""
    if not log.isEnabledFor(logging.INFO):
        return
    usage = rec.usage
    log.info(
        "call finished",
        extra={
            "request_id": rec.request_id,
            "call_id": rec.call_id,
            "tenant_id": rec.tenant_id,
            "token_prefix": rec.token_prefix,
            "model": rec.model,
            "operation": rec.operation,
            "deployment_id": rec.deployment_id,
            "provider_id": rec.provider_id,
            "client_protocol": rec.client_protocol,
            "stream": rec.stream,
            "status": rec.status,
            "http_status": rec.http_status,
            "error_code": rec.error_code,
            "latency_ms": round(rec.latency_ms, 1),
            "ttft_ms": None if rec.ttft_ms is None else round(rec.ttft_ms, 1),
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cached_input_tokens": usage.cached_input_tokens,
            "cost_usd": rec.cost_usd,
            "attempts": rec.attempts,
            "usage_estimated": rec.usage_estimated,
            "partial": rec.partial,
        },
    )
