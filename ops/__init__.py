"""Driftwood's ops logic: plain typed modules that take a python-on-whales DockerClient.

`tasks.py` is only a table of contents over these modules.
"""
