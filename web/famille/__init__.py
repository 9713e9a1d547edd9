"""The families' space under /famille: the vault, the demandes, the household, joining a foyer."""
