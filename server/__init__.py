"""data-export-bus: the bus server and the toolkit on top of it."""

__version__ = "0.1.0"
