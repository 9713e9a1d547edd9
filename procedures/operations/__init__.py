"""The named operations a diagram's service tasks may call: diagrams hold no code."""
