"""The procedure designer: drafts, checks, trial runs, publication, versions and import."""
