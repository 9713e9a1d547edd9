"""The agents' inbox: tasks by tab and filter, saved filters, and the supervisors' view."""
