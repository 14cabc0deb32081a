"""The attack tests, one file per surface (docs/security.md lists them). The Redis attacks
run against nodes of a real cluster: `cluster` comes from the cluster tests' node harness."""

from tests.cluster.nodes import cluster

__all__ = ["cluster"]
