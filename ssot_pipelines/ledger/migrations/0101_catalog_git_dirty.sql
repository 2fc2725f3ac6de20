-- File Catalog: the paths git reported as not clean at a repository's last full walk (plus every path
-- refreshed since). With head_commit, it lets the file-change sensor ask git what may have changed
-- instead of stat-ing every file. NULL: unknown (not a git work tree, or not recorded yet).
ALTER TABLE catalog_repos ADD COLUMN IF NOT EXISTS dirty_paths text[];
