"""The "SSoT Status" page, the asset checks that compare Notion with the ledger, and the freshness checks."""
