"""Running procedures: BPMN diagrams, definitions, demandes, tasks, the inbox, deadlines."""
