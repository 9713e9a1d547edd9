"""Signing in and the accounts' own pages: login, sign-up, activation, reset, second factor."""
