"""Tiny Shakespeare, character by character: find the text, encode it, cut it into windows a model predicts.

Sources, first match wins: the `data_path` parameter, the `LRLAB_SHAKESPEARE` environment variable. The text is
char-rnn's and nanoGPT's `tinyshakespeare.txt` (1,115,394 characters, 65 distinct); `data_path="synthetic"` writes
a small generated text of the same alphabet and reads it through the same loader (the tests and the smoke profile).

The split is nanoGPT's: the first 90% of the characters train, the last 10% are its validation split. The study
needs a validation set it looks at and a test set it touches once, so that last 10% is cut in two: its first half
validates, its second half tests (the reference check reads both halves together: nanoGPT's whole validation split).
Every split is cut into non-overlapping windows of `context` characters, each predicting the character after every
one of its positions: one epoch is one pass over the training text.
"""

import hashlib
import os
from pathlib import Path

import numpy as np

from .data import SYNTHETIC, DataError

ENV_VAR = "LRLAB_SHAKESPEARE"
TRAIN_FRACTION = 0.9
CONTEXT = 64  # nanoGPT's CPU configuration
# the alphabet of tinyshakespeare.txt, in sorted order: a generated text uses the same 65 characters
ALPHABET = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def resolve_source(data_path=None, output_dir="outputs", profile="paper") -> Path:
    """Where the text comes from: the generated one, the parameter's path or the environment variable's."""
    if data_path == SYNTHETIC:
        return synthetic_text_path(output_dir, profile)
    chosen = data_path or os.environ.get(ENV_VAR)
    if not chosen:
        raise DataError(f"no Shakespeare text: set {ENV_VAR}=/path/to/tinyshakespeare.txt or pass "
                        f"-p data_path=PATH")
    path = Path(chosen).expanduser()
    if not path.is_file():
        origin = "data_path" if data_path else ENV_VAR
        raise DataError(f"Shakespeare text not found at {path} (from {origin}): fix the path or unset it")
    return path.resolve()


def synthetic_text_path(output_dir, profile) -> Path:
    return Path(output_dir) / profile / "data" / "shakespeare-synthetic.txt"


def write_synthetic_text(path, n_characters=60_000, seed=0) -> Path:
    """A generated text over ALPHABET with enough structure to learn in a few epochs: words drawn from a small
    vocabulary (Zipf-like frequencies), lines of a few words, a speaker's name before each short speech. Every
    character of the alphabet occurs, so the vocabulary is the real text's 65."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("etaoinshrdlucmfwypvbgkjqxz"))
    words = ["".join(rng.choice(letters, size=rng.integers(2, 8))) for _ in range(300)]
    weights = 1.0 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    names = ["".join(rng.choice(letters, size=5)).upper() for _ in range(8)]
    parts = [ALPHABET.replace("\n", " ") + "\n"]  # each character at least once
    length = len(parts[0])
    while length < n_characters:
        lines = [rng.choice(names) + ":"]
        for _ in range(rng.integers(1, 4)):
            line = " ".join(rng.choice(words, size=rng.integers(3, 9), p=weights))
            lines.append(line[0].upper() + line[1:] + rng.choice(list(",.;:!?-'&$3")))
        speech = "\n".join(lines) + "\n\n"
        parts.append(speech)
        length += len(speech)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("".join(parts)[:n_characters], encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_text(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} as UTF-8 text ({exc}): point {ENV_VAR} at tinyshakespeare.txt") \
            from None
    if len(text) < 10 * CONTEXT:
        raise DataError(f"{path} holds {len(text)} characters: too short to train a character model on")
    return text


def encode(text: str, alphabet: str) -> np.ndarray:
    index = {c: i for i, c in enumerate(alphabet)}
    return np.fromiter((index[c] for c in text), dtype=np.int32, count=len(text))


def decode(ids, alphabet: str) -> str:
    return "".join(alphabet[int(i)] for i in ids)


def windows(ids: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows: inputs ids[s:s+context], targets the characters one further on."""
    n = (len(ids) - 1) // context
    x = ids[: n * context].reshape(n, context)
    y = ids[1: n * context + 1].reshape(n, context)
    return x, y


def splits(ids: np.ndarray) -> dict:
    """nanoGPT's split, its validation part halved into validation and test (see the module's docstring)."""
    cut = int(TRAIN_FRACTION * len(ids))
    held_out = ids[cut:]
    half = len(held_out) // 2
    return {"train": ids[:cut], "validation": held_out[:half], "test": held_out[half:], "held_out": held_out}


def load_text(data_path=None, output_dir="outputs", profile="paper") -> dict:
    """The text's ids, its alphabet (sorted distinct characters) and a fingerprint of the file."""
    path = resolve_source(data_path, output_dir, profile)
    if data_path == SYNTHETIC and not path.exists():
        write_synthetic_text(path)
    text = read_text(path)
    alphabet = "".join(sorted(set(text)))
    return {"ids": encode(text, alphabet), "alphabet": alphabet,
            "fingerprint": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def load_dataset(settings, context=CONTEXT) -> dict:
    """The arrays a profile trains, validates and tests on (lrlab.data.load_dataset's shape): windows of ids."""
    if settings.protocol != "holdout":
        raise ValueError("shakespeare_char has held-out validation and test text only: use protocol holdout")
    text = load_text(settings.data_path, settings.output_dir, settings.profile)
    parts = splits(text["ids"])
    data = {"fingerprint": text["fingerprint"], "alphabet": text["alphabet"],
            "class_names": list(text["alphabet"])}
    for split, name in [("train", "train"), ("val", "validation"), ("test", "test")]:
        data[f"x_{split}"], data[f"y_{split}"] = windows(parts[name], context)
    return data
