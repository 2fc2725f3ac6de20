"""Core assets: provisioning and the Notion sync asset factory."""
