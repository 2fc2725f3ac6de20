"""Views and a dashboard in Notion that show the work: boards by status and band, charts by severity, a
timeline of sessions, files by component. The project tracks the views it made by id (table
``dashboard_views``), repairs its own on full syncs and ``ssot setup``, and never touches a person's."""
