"""Analyses of the reachable graph of an explicit exploration.

* :mod:`lbrspec.analysis.stategraph`: the graph as compact adjacency arrays, predicate masks,
  shortest paths and strongly connected components;
* :mod:`lbrspec.analysis.summary`: what networkx says about the graph (transitions never
  enabled, sink strongly connected components, diameter, goals unreached);
* :mod:`lbrspec.analysis.liveness`: liveness properties under weak and strong fairness, with
  lasso counterexamples.

Every analysis reads an :class:`~lbrspec.explicit.explore.ExploreResult` explored with
``keep_graph=True`` and never a reduced one.
"""
