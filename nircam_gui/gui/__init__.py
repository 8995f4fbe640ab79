"""PySide6 + pyqtgraph widgets. Computation goes through core, in worker threads."""
