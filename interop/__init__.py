"""The town's other systems: API clients and their tokens, the calls' journal, what they read."""
