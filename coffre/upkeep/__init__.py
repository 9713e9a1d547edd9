"""The worker's care of documents after their deposit: the antivirus scan, the 2D-Doc read,
and the sweep and check of the store."""
