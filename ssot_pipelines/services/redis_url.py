"""Which Redis to use: ``REDIS_URL`` when set (checked to answer), else the embedded one. Light to import."""

from __future__ import annotations

from ssot_pipelines.settings import ConfigurationError, env, redact


def resolve_redis_url(url: str | None = None) -> str:
    """``url`` or ``REDIS_URL`` when set (checked to answer), else the embedded Redis."""
    url = url or env("REDIS_URL")
    if url is None:
        from ssot_pipelines.services.embedded import embedded_redis_url

        return embedded_redis_url()
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        raise ConfigurationError(
            f"REDIS_URL is set but Redis does not answer ({redact(str(exc), url)}). Check REDIS_URL "
            "(redis://host:6379/0), or unset it to use the embedded Redis."
        ) from None
    return url
