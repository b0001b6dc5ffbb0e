#!/usr/bin/env python
"""nanoGPT's published CPU result on Tiny Shakespeare, reproduced with this project's character model in Keras:
the check that `shakespeare_char` is the task nanoGPT trains before any method is compared on it.

    LRLAB_SHAKESPEARE=/path/to/tinyshakespeare.txt .venv/bin/python benchmarks/nanogpt_reference.py \
        [--iterations 2000] [--json out.json]

nanoGPT's configuration (README, "I only have a macbook"): 4 layers, 4 heads, 128 dimensions, context 64, batch 12,
2,000 iterations, no dropout; AdamW with β1 0.9, β2 0.99, weight decay 0.1 on matrices and embeddings only, the
global gradient norm clipped at 1.0; the rate warmed up linearly over 100 iterations to 1e-3 (nanoGPT's
lr·(it+1)/(warmup+1)), then cosine decay to 1e-4 at iteration 2,000. Each iteration draws its 12 windows at random
starting points of the training split, as nanoGPT's get_batch does. nanoGPT reports a validation loss of about 1.88
(estimated on 20 batches); the acceptance here is ≤ 1.90 on the whole validation split (nanoGPT's last 10%, cut
into non-overlapping windows), where nanoGPT itself averages 1.905 over six seeds (docs/performance.md). Prints
the validation loss at initialisation and at the end, the wall time and milliseconds per iteration; and a
generated sample. Not a test: it prints figures, it asserts nothing.
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from lrlab.machine import configure_process  # noqa: E402

configure_process(os.environ.get("LRLAB_THREADS"))  # before the backend loads

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lrlab import shakespeare  # noqa: E402
from lrlab.models import char_transformer  # noqa: E402
from lrlab.train import text_samples  # noqa: E402

BATCH, CONTEXT, PEAK, FLOOR, WARMUP = 12, 64, 1e-3, 1e-4, 100


class NanoGPTRate(keras.optimizers.schedules.LearningRateSchedule):
    """nanoGPT's get_lr: linear warm-up, cosine decay to the floor at `decay_steps`, the floor after."""

    def __init__(self, decay_steps):
        self.decay_steps = decay_steps

    def __call__(self, step):
        it = keras.ops.cast(step, "float32")
        warm = PEAK * (it + 1) / (WARMUP + 1)
        ratio = keras.ops.clip((it - WARMUP) / (self.decay_steps - WARMUP), 0.0, 1.0)
        cosine = FLOOR + 0.5 * (1 + keras.ops.cos(math.pi * ratio)) * (PEAK - FLOOR)
        return keras.ops.where(it < WARMUP, warm, cosine)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1337, help="initial weights and batches (nanoGPT's is 1337)")
    parser.add_argument("--data", default=None, help=f"the text (default ${shakespeare.ENV_VAR})")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    text = shakespeare.load_text(args.data)
    parts = shakespeare.splits(text["ids"])
    x_val, y_val = shakespeare.windows(parts["held_out"], CONTEXT)
    train = parts["train"]
    starts = np.random.default_rng(args.seed).integers(0, len(train) - CONTEXT, size=(args.iterations, BATCH))
    x = np.stack([train[s:s + CONTEXT] for s in starts.reshape(-1)])
    y = np.stack([train[s + 1:s + 1 + CONTEXT] for s in starts.reshape(-1)])

    keras.utils.set_random_seed(args.seed)
    model = char_transformer((CONTEXT,), len(text["alphabet"]))
    optimizer = keras.optimizers.AdamW(learning_rate=NanoGPTRate(args.iterations), beta_1=0.9, beta_2=0.99,
                                       epsilon=1e-8, weight_decay=0.1, global_clipnorm=1.0)
    # nanoGPT decays every parameter of two or more dimensions: not the layer-normalization gains
    optimizer.exclude_from_weight_decay(var_names=["gamma"])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", steps_per_execution=16)
    print(f"{model.count_params():,} parameters; {len(x_val)} validation windows "
          f"({x_val.size:,} characters predicted)")
    initial = model.evaluate(x_val, y_val, batch_size=256, verbose=0)
    print(f"validation loss at initialisation {initial:.4f} (ln {len(text['alphabet'])} = "
          f"{math.log(len(text['alphabet'])):.4f})")
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    final = model.evaluate(x_val, y_val, batch_size=256, verbose=0)
    print(f"after {args.iterations} iterations: validation loss {final:.4f} on the whole validation split; "
          f"training {seconds:.0f} s ({1000 * seconds / args.iterations:.1f} ms per iteration), "
          f"backend {keras.backend.backend()}")
    sample = text_samples([model], text["alphabet"])[0]  # what every text run of the study writes, the same way
    print("sample:\n\n" + sample)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "iterations": args.iterations, "seed": args.seed, "initial_validation_loss": initial,
            "validation_loss": final,
            "train_seconds": seconds, "ms_per_iteration": 1000 * seconds / args.iterations,
            "backend": keras.backend.backend(), "threads": os.environ.get("LRLAB_THREADS"),
            "parameters": model.count_params(), "sample": sample}, indent=1))


if __name__ == "__main__":
    main()
