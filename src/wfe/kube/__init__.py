"""The thin, generic Kubernetes layer under the controller (ARCHITECTURE: ``wfe/kube``).

It knows nothing of WorkflowExecutions or Tekton (import-linter enforces that it imports no
other ``wfe`` package):

- :mod:`~wfe.kube.errors`: API failures as typed errors, converted once;
- :mod:`~wfe.kube.client`: CRUD, merge patches, raw watches and discovery on plain dicts;
- :mod:`~wfe.kube.informer`: list → watch with bookmarks → re-list on 410, cache and indexes;
- :mod:`~wfe.kube.workqueue`: client-go's work queue (dedup, in-flight exclusion, delays,
  per-key backoff);
- :mod:`~wfe.kube.leader`: Lease leader election that cancels the work on every exit;
- :mod:`~wfe.kube.clock`: time as a port, with a fake clock for tests.

Import the modules (``from wfe.kube import errors``), not their names (STYLE §3).
"""

from wfe.kube import client, clock, errors, informer, leader, workqueue

__all__ = ["client", "clock", "errors", "informer", "leader", "workqueue"]
