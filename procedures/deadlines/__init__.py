"""Time in procedures: working hours, deadlines and escalation, forgotten drafts."""
