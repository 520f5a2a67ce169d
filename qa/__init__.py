"""Question answering over a Chinese speech: quotes the speech's own sentences, cited by paragraph."""

import os

# This tool is offline by design: never let a hub client or Gradio's analytics try the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Keep stdout and stderr for answers and our own progress lines, not library progress bars.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

__version__ = "0.1.0"
