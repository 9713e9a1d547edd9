"""The built-in procedures: their BPMN diagrams and metadata, read by procedures.catalogue."""
