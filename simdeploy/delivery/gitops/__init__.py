"""GitOps syncs as Argo CD runs them: the manifest set applied, resource hooks first."""
