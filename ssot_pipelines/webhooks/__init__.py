"""Notion webhooks: the receiver (``ssot notion webhook serve``) and the drain that pulls the pages they name."""
