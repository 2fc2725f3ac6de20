"""User endpoints: the sandbox's bot and its one person."""

from __future__ import annotations

from . import query as query_mod
from .api_base import ApiBase, Query, first_param, list_response
from .errors import not_found
from .ids import parse_id
from .store import Record
from .validation import check_page_size


class UserEndpoints(ApiBase):
    """``/v1/users``."""

    def users(self) -> list[Record]:
        bot = {
            "object": "user",
            "id": self.store.bot_user_id,
            "type": "bot",
            "name": "SSOT Sandbox",
            "avatar_url": None,
            "bot": {"owner": {"type": "workspace", "workspace": True}, "workspace_name": "SecondBrain Sandbox"},
        }
        person = {
            "object": "user",
            "id": self.store.person_user_id,
            "type": "person",
            "name": "Sandbox Person",
            "avatar_url": None,
            "person": {"email": "person@sandbox.invalid"},
        }
        return [bot, person]

    def list_users(self, params: Query) -> Record:
        page_size = check_page_size("query.page_size", first_param(params, "page_size"))
        users = self.users()
        window = query_mod.paginate(users, [u["id"] for u in users], page_size, first_param(params, "start_cursor"))
        return list_response(window.items, window, "user")

    def get_user(self, user_id: str) -> Record:
        uid = parse_id(user_id, "path.user_id")
        for user in self.users():
            if user["id"] == uid:
                return user
        raise not_found("user", uid)

    def me(self) -> Record:
        return self.users()[0]
