"""The cluster: object store and API rules, controllers, scheduler, kubelets and nodes."""
