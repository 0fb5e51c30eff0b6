"""setup.py for Beam's --setup_file staging (Dataflow builds an sdist from it).

All metadata lives in pyproject.toml; this file only lets
``--setup_file ./setup.py`` work on runners that still expect one.
"""

from setuptools import setup

setup()
