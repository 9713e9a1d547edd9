"""The pages of messaging: threads with a service, targeted news."""
