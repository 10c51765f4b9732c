"""kopf registrations only, one module per kind: each handler is a few lines calling the app's reconcile, status
and scope functions. `register(registry, app)` in each module; `controller.app.registry` calls them all.

Handler ids are given explicitly (the function names they had as module-level functions): kopf stores progress
under them in annotations, so they must not change when code moves.
"""
