"""The vault's journal: the hash chain of every operation, its signed checkpoints and timestamps."""
