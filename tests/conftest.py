import os

# GUI tests run headless; set before anything imports Qt
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
