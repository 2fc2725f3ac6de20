"""Static-analysis findings: import linters' reports, keep each issue's identity across analyses."""
