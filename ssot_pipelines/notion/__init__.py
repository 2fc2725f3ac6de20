"""The Notion layer: paced and retried calls, provisioning, and the desired-state sync."""
