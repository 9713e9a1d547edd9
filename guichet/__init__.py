"""Counter mode (guichet): an agent opens a family's space at the town hall and acts for it."""
