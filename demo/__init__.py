"""Demo data for `make run` and the tests: one town, a partner body, agents and families."""
