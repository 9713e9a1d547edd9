"""The background worker: a loop that runs every package's periodic jobs, and its heartbeat."""
