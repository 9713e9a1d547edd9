"""Messages between families and the town: threads with a service, targeted news."""
