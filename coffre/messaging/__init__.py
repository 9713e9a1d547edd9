"""What the vault keeps of message threads: the family's consent to a thread's service."""
