"""The administration under /admin: entities and services, agents, document types, procedures."""
