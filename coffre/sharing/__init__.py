"""What the vault shares on from a demande: a child's care plan with its school's teams."""
