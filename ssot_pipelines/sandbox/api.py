"""The Notion endpoints' behaviour over the store; HTTP concerns live in ``server``.

Each endpoint group lives in its own module; ``NotionApi`` joins them into the one object ``server``
dispatches to.
"""

from __future__ import annotations

from .api_base import Query
from .schema_api import SchemaEndpoints
from .search_api import SearchEndpoints
from .users_api import UserEndpoints
from .v2022 import DatabaseQueryEndpoint
from .views_api import ViewEndpoints

__all__ = ["NotionApi", "Query"]


class NotionApi(SchemaEndpoints, DatabaseQueryEndpoint, SearchEndpoints, UserEndpoints, ViewEndpoints):
    """One method per endpoint; every mutation runs inside a store transaction."""
