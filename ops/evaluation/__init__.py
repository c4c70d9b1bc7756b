"""Evaluation building blocks (Ray-free): truth sources, scoring one output shard, the report.

:mod:`pipelines.evaluate` composes them into a Ray Core task graph.
"""
