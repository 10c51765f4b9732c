"""Metric families without a cluster: a gauge forgets one object's values when it goes (Bitnami's
UnregisterCondition), every condition of it and nothing of its neighbours, from an index by object rather than a
scan of every series."""

from __future__ import annotations

from controller import metrics


def test_forget_drops_one_objects_values_and_keeps_the_rest():
    g = metrics.Gauge("x_condition_info", "help", ["namespace", "name", "condition"], owner=2)
    g.set(1, "app", "db", "Synced")
    g.set(-1, "app", "db", "Ready")
    g.set(1, "app", "db2", "Synced")
    g.set(1, "other", "db", "Synced")
    g.forget("app", "db")
    assert g.value("app", "db", "Synced") is None and g.value("app", "db", "Ready") is None
    assert g.value("app", "db2", "Synced") == 1 and g.value("other", "db", "Synced") == 1
    assert not any('name="db",' in line and 'namespace="app"' in line for line in g.render())
    g.forget("app", "db")  # twice: nothing left to drop
    g.set(0, "app", "db", "Synced")  # a new object of the same name starts afresh
    assert g.value("app", "db", "Synced") == 0


def test_bitnami_conditions_go_with_their_sealed_secret():
    metrics.observe_conditions("t-ns", "gone", [{"type": "Synced", "status": "True"}])
    metrics.observe_conditions("t-ns", "stays", [{"type": "Synced", "status": "False"}])
    metrics.forget_conditions("t-ns", "gone")
    assert metrics.BITNAMI_CONDITION.value("t-ns", "gone", "Synced") is None
    assert metrics.BITNAMI_CONDITION.value("t-ns", "stays", "Synced") == -1
    metrics.forget_conditions("t-ns", "stays")
