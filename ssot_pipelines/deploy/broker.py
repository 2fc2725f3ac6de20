"""The Celery broker and result backend: the project's Redis (``REDIS_URL``, or the embedded one).

Plain code (no Dagster): the URL is resolved the way every other Redis user in the project resolves it,
then spelled the way Celery's Redis transport wants it. The embedded Redis listens on a unix socket only,
which kombu and Celery's Redis backend call ``redis+socket:///path``; every process on the machine (the run
worker and each Celery worker) reaches it, while workers on other machines need a ``REDIS_URL`` over TCP.
"""

from __future__ import annotations

from ssot_pipelines.settings import ConfigurationError, redact

# The queue dagster-celery's executor submits steps to (dagster_celery.make_app routes ``execute_plan`` there).
DAGSTER_QUEUE = "dagster"


def celery_url(redis_url: str) -> str:
    """``redis_url`` as Celery spells it: ``unix://`` becomes ``redis+socket://``; TCP URLs are unchanged."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    if redis_url.startswith(("redis://", "rediss://", "redis+socket://")):
        return redis_url
    raise ConfigurationError(
        f"REDIS_URL {redact(redis_url)!r} is not a Redis URL Celery can use as its broker: "
        "use redis://host:6379/0, rediss://... or unix:///path/to/redis.sock."
    )


def celery_broker_url(redis_url: str | None = None) -> str:
    """The broker (and result backend) URL: ``redis_url``, else ``REDIS_URL`` (checked to answer), else the
    embedded Redis (started on demand)."""
    from ssot_pipelines.notion.setup import resolve_redis_url

    return celery_url(resolve_redis_url(redis_url))
