"""The agents' back office under /agent: the inbox, a demande's review, supervision, the counter."""
