"""SaddleBench harness: counted oracle, SOSP certificate, runner, records and CLI.

Imports are kept lazy so that `bench --help` starts fast.
"""

__version__ = "0.1.0"
