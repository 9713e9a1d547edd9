"""Time in procedures: deadlines of the services' tasks, escalation, forgotten drafts."""
