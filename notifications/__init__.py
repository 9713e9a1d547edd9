"""E-mails: their French texts, the outbox written with each event, and SMTP delivery."""
