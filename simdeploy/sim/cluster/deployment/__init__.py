"""The Deployment controller, split like pkg/controller/deployment: one module per step of the reconcile."""
