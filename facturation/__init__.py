"""Billing: tariffs by family-quotient band, monthly invoices, the family account and its
payments, on one append-only ledger. Money is integer cents of euros everywhere."""
