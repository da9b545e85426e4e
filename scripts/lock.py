"""Regenerate requirements.lock from requirements.in: every package pinned by version and sha256.

Run through `make lock`. It resolves requirements.in in one pip run (pip's --dry-run --report), so the
lock holds exactly the set pip chooses together with rasa's own pins.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from secondlook.paths import PROJECT_ROOT


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--dry-run",
                "--ignore-installed",
                "--report",
                str(report_path),
                "-r",
                str(PROJECT_ROOT / "requirements.in"),
            ],
            check=True,
        )
        report = json.loads(report_path.read_text())
    lines = [
        "# Generated from requirements.in by `make lock`; do not edit by hand.",
        "# Installed with --require-hashes --no-deps: exactly this set, nothing the resolver adds later.",
    ]
    for item in sorted(report["install"], key=lambda i: i["metadata"]["name"].lower()):
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        sha256 = item["download_info"]["archive_info"]["hashes"]["sha256"]
        lines.append(f"{name}=={version} \\\n    --hash=sha256:{sha256}")
    (PROJECT_ROOT / "requirements.lock").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
