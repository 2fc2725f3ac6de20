"""Schemas of the seven Notion databases."""

from ssot_pipelines.schemas.databases import ALL_DATABASES, DATABASES, database
from ssot_pipelines.schemas.model import KEY_PROPERTY, DatabaseSchema, Owner, PropertySpec, PropType

__all__ = [
    "ALL_DATABASES",
    "DATABASES",
    "KEY_PROPERTY",
    "DatabaseSchema",
    "Owner",
    "PropType",
    "PropertySpec",
    "database",
]
