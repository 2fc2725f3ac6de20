"""Typed schema objects: one declaration drives provisioning, validation and the sync."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Owner(StrEnum):
    """Who writes a property: the machine (pushed from the ledger) or people (pulled from Notion)."""

    MACHINE = "machine"
    HUMAN = "human"
    SHARED = "shared"  # the machine proposes the value; once a person changes it in Notion, it is theirs
    MIRROR = "mirror"  # the far side of a two-way relation: Notion maintains it, nobody pushes it


class PropType(StrEnum):
    TITLE = "title"
    RICH_TEXT = "rich_text"
    NUMBER = "number"
    SELECT = "select"
    MULTI_SELECT = "multi_select"
    DATE = "date"
    CHECKBOX = "checkbox"
    URL = "url"
    RELATION = "relation"
    PEOPLE = "people"


@dataclass(frozen=True)
class PropertySpec:
    """One Notion property: its name, type and owner.

    ``relation_to`` names the target database (by schema name) for relations; ``dual`` is the name of
    the mirrored property on the target for a two-way relation. ``options`` seeds select options.
    """

    name: str
    type: PropType
    owner: Owner = Owner.MACHINE
    relation_to: str | None = None
    dual: str | None = None
    options: tuple[str, ...] = ()
    number_format: str = "number"
    description: str = ""

    def notion_config(self, data_source_ids: dict[str, str]) -> dict[str, Any]:
        """The property configuration object for a create/update data source request."""
        if self.type is PropType.RELATION:
            assert self.relation_to is not None
            target = data_source_ids[self.relation_to]
            if self.dual:
                return {
                    "relation": {
                        "data_source_id": target,
                        "type": "dual_property",
                        "dual_property": {"synced_property_name": self.dual},
                    }
                }
            return {"relation": {"data_source_id": target, "type": "single_property", "single_property": {}}}
        if self.type is PropType.NUMBER:
            return {"number": {"format": self.number_format}}
        if self.type in (PropType.SELECT, PropType.MULTI_SELECT):
            return {self.type.value: {"options": [{"name": o} for o in self.options]}}
        return {self.type.value: {}}


KEY_PROPERTY = "Key"


@dataclass(frozen=True)
class DatabaseSchema:
    """A Notion database: its name (stable identifier), title, properties and how records are keyed."""

    name: str
    title: str
    properties: tuple[PropertySpec, ...]
    description: str = ""
    key_prefix: str = ""
    body_label: str = ""  # what the page body holds, for documentation
    _by_name: dict[str, PropertySpec] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [p.name for p in self.properties]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.name}: duplicate property names")
        if KEY_PROPERTY not in names:
            raise ValueError(f"{self.name}: every database needs a {KEY_PROPERTY!r} property")
        titles = [p for p in self.properties if p.type is PropType.TITLE]
        if len(titles) != 1:
            raise ValueError(f"{self.name}: exactly one title property is required")
        self._by_name.update({p.name: p for p in self.properties})

    @property
    def title_property(self) -> PropertySpec:
        return next(p for p in self.properties if p.type is PropType.TITLE)

    def prop(self, name: str) -> PropertySpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.name} has no property {name!r}; known: {sorted(self._by_name)}") from None

    def owned(self, owner: Owner) -> tuple[PropertySpec, ...]:
        return tuple(p for p in self.properties if p.owner is owner)

    @property
    def relations(self) -> tuple[PropertySpec, ...]:
        return tuple(p for p in self.properties if p.type is PropType.RELATION and p.owner is not Owner.MIRROR)

    def to_json(self) -> dict[str, Any]:
        """A documentation export of the schema."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "body": self.body_label,
            "properties": [
                {
                    "name": p.name,
                    "type": p.type.value,
                    "owner": p.owner.value,
                    **({"relation_to": p.relation_to} if p.relation_to else {}),
                    **({"dual": p.dual} if p.dual else {}),
                    **({"options": list(p.options)} if p.options else {}),
                    **({"description": p.description} if p.description else {}),
                }
                for p in self.properties
            ],
        }
