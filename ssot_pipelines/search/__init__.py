"""Unified search over everything the SecondBrain holds: sessions, Slack, files, findings and tasks.

Nothing heavy is imported here (no Dagster, no pandas): ``ssot search`` and the MCP server stay fast.
"""
