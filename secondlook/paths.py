"""Where the project's files live, independent of the working directory."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTENT_DIR = PROJECT_ROOT / "content"
VAR_DIR = PROJECT_ROOT / "var"
