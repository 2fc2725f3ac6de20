"""Slack conversations: workspace exports and live Events API capture into the ledger, the Slack
Conversations database in Notion, conversation vectors, and the bridge to CLI sessions."""
