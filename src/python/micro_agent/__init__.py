"""Submit-side tools of WorkflowOrchestrator: event splitting, DAG creation and POST processing."""
