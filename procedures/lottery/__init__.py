"""Places allocated by lottery: the sports school's and conservatoire's courses
(`ecole_municipale`), drawn when over-subscribed, with a waiting list in drawn order."""
