"""Who signs in and where agents work: accounts, activation, second factor, organisation."""
