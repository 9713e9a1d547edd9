"""BPMN diagrams loaded safely and run by SpiffWorkflow under the restricted evaluator."""
