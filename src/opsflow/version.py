"""opsflow's version, in a module of its own so that any layer may read it.

``opsflow.__version__`` is this value; a test keeps it equal to the package metadata.
"""

__version__ = "0.1.0"
