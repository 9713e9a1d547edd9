"""What the family's pages show of its vault: its documents and their reads, and its journal,
named with the demandes and services they concern."""
