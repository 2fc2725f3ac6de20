"""CLI sessions: the ssot-hook journal, transcript import, the three storage layers, bridging and recall.

Nothing is imported here so that ``ssot-hook`` (which imports ``ssot_pipelines.sessions.hook``) stays tiny.
"""
