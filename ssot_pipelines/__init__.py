"""ssot_pipelines: Notion as the single source of truth for an engineering SecondBrain."""

__version__ = "0.1.0"
