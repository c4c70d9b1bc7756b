"""Evaluation building blocks (Ray-free): truth sources, scoring one output shard, the report.

:mod:`pipelines.evaluation` composes them into a Ray Core task graph.
"""
