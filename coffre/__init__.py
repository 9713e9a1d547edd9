"""The families' vault: foyers, encrypted documents, consent and its one access check, journal."""
