"""File Catalog: scan repositories into the File Catalog database (issue 3)."""
