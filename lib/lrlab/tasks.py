"""What a run learns: each task is one entry here (its data, its network, what it predicts, its reference), and
a profile or `-p task=NAME` picks one. Everything downstream reads the task from here: which loader a build calls,
which network a run trains, what the report calls the task and what one example is.

Every task is a classification of one example at a time: an image's class, or the next character after each
position of a window of text. So every run logs the cross-entropy (lower is better) and the accuracy (higher is
better), guessing scores ln(classes) and 1/classes, and the failure rule (lrlab.health) reads both for every task.
Which of the two ranks the configurations is the task's `metric`: the accuracy for images, the validation loss
for text (nanoGPT's and char-rnn's figure); every table, verdict, figure and sentence of the report reads it from
there (`metric_of`), so a lower-is-better task reads as naturally as an accuracy one.
"""

import math
from dataclasses import dataclass, field
from typing import Callable

from . import data, shakespeare
from .statistics import signed_text


@dataclass(frozen=True)
class Metric:
    """What ranks a task's configurations, and how the report writes it."""
    key: str  # the column Keras logs: "accuracy" or "loss" ("val_" + key on validation, "test_" + key on test)
    name: str  # "accuracy", "loss"
    higher_is_better: bool
    scale: float  # a stored value to the number printed: 100 (a percentage) or 1
    unit: str  # after a printed value: "%" or ""
    difference_unit: str  # after a printed difference: "points" (of a percentage) or "nats"
    decimals: int  # of a printed value or difference
    tie: float  # configurations this close to the best mean (in stored units) are named beside it as a tie
    actionable: float  # the smallest difference a practitioner would act on (stored units): the first screen's
    # resolving power asks how many seeds it takes to resolve it

    @property
    def history(self) -> str:  # the validation curve's column in a run's history
        return f"val_{self.key}"

    @property
    def final(self) -> str:  # the runs table's column of the last epoch's validation value (lrlab.run_tables)
        return f"final_val_{self.key}"

    @property
    def best(self) -> str:  # ... of the best epoch's
        return f"best_val_{self.key}"

    @property
    def test(self) -> str:  # ... of the test set's, measured once after training
        return f"test_{self.key}"

    @property
    def header(self) -> str:  # a table column's name for it: "accuracy %", "loss"
        return f"{self.name} {self.unit}".strip()

    @property
    def axis(self) -> str:  # an axis label's name for it: "accuracy (%)", "loss"
        return f"{self.name} ({self.unit})" if self.unit else self.name

    @property
    def best_word(self) -> str:  # "highest" / "lowest"
        return "highest" if self.higher_is_better else "lowest"

    def chance(self, n_classes: int) -> float:
        """What guessing scores: 1/classes of accuracy, ln(classes) of loss."""
        return 1 / n_classes if self.higher_is_better else math.log(n_classes)

    def chance_text(self, n_classes: int) -> str:
        """"chance: 50%", "guessing: ln 65 = 4.174"."""
        if self.higher_is_better:
            return f"chance: {100 / max(1, n_classes):.0f}%"
        return f"guessing: ln {n_classes} = {math.log(n_classes):.{self.decimals}f}"

    def spread(self, difference) -> str:
        """A difference of stored values as an unsigned amount with its unit: "12.3 points", "0.052 nats"."""
        return f"{self.scale * abs(difference):.{self.decimals}f} {self.difference_unit}"

    @property
    def tie_text(self) -> str:  # "0.5 points", "0.005 nats"
        return f"{self.scale * self.tie:g} {self.difference_unit}"

    def number(self, value) -> str:
        """A stored value as printed, without its unit: "69.8", "1.734"; "n/a" for None or NaN."""
        return "n/a" if value is None or value != value else f"{self.scale * value:.{self.decimals}f}"

    def text(self, value) -> str:
        """A stored value with its unit: "69.8%", "1.734"."""
        return self.number(value) + (self.unit if value is not None and value == value else "")

    def points(self, difference) -> float:
        """A difference of stored values in the units it is printed in (points of a percentage, nats)."""
        return self.scale * difference

    def signed(self, difference) -> str:
        """A difference already in printed units, signed: "+2.3", "−0.052"."""
        return signed_text(difference, self.decimals)

    @property
    def sign(self) -> int:  # +1 where higher is better, −1 where lower: sign × (a − b) is above zero when a is better
        return 1 if self.higher_is_better else -1

    def best_value(self, values):
        """The best of a Series or array of values: its maximum, or its minimum where lower is better."""
        return values.max() if self.higher_is_better else values.min()

    def best_index(self, values):
        """The index of a Series' best value (the first, on a tie)."""
        return values.idxmax() if self.higher_is_better else values.idxmin()

    def ahead(self, a, b):
        """How far a is ahead of b (elementwise): a − b, or b − a where lower is better."""
        return a - b if self.higher_is_better else b - a

    @property
    def gain_word(self) -> str:  # a value minus its reference (the best rate's minus the default's, a longer
        # budget's minus the shortest's): a gain of accuracy, a change of loss (below zero where it improved)
        return "gain" if self.higher_is_better else "change"

    def better(self, a, b):
        """Whether a is better than b (elementwise on arrays)."""
        return a > b if self.higher_is_better else a < b

    def target(self, best: float, fraction: float) -> float:
        """Time to target's bar from the best mean value: `fraction` of the best accuracy, or a loss that much
        above the lowest (0.95: 5% above)."""
        return fraction * best if self.higher_is_better else (2 - fraction) * best

    def target_text(self, fraction: float) -> str:
        """How `target` was set: "95% of the best mean accuracy", "5% above the lowest mean loss"."""
        if self.higher_is_better:
            return f"{round(100 * fraction)}% of the best mean {self.name}"
        return f"{round(100 * (1 - fraction))}% above the lowest mean {self.name}"

    def reached(self, values, target):
        """Whether each value is at the target or beyond it."""
        return values >= target if self.higher_is_better else values <= target


ACCURACY = Metric("accuracy", "accuracy", True, 100.0, "%", "points", 1, tie=0.005, actionable=0.015)
# a loss tie: 0.005 nats, about 0.3% of a character model's 1.5-2 nats; acting on 0.02 nats (nanoGPT's own tuning
# changes move its validation loss by a few hundredths)
LOSS = Metric("loss", "loss", False, 1.0, "", "nats", 3, tie=0.005, actionable=0.02)

CAT, DOG = 3, 5
IMAGE_NETWORKS = ("seed_cnn", "vgg_bn", "resnet20")
TEXT_NETWORKS = ("char_transformer", "char_transformer_small")
# a network (lrlab.models) whose numbers changed since runs of it were stored: its runs carry the revision (part of
# their id), so none trained before is reused, while every other network's run ids stay as they were.
# 1 (2026-12-03): the transformers' blocks each draw their own initial weights (before, all blocks' MLPs were equal)
NETWORK_REVISIONS = {"char_transformer": 1, "char_transformer_small": 1}


def network_revision(name) -> dict:
    """What a run configuration records of its network's revision: {"model_revision": r}, or nothing at 0."""
    revision = NETWORK_REVISIONS.get(name, 0)
    return {"model_revision": revision} if revision else {}


@dataclass(frozen=True)
class Task:
    name: str
    display_name: str  # "cat vs dog (2 CIFAR-10 classes, chance 50%)"
    load: Callable  # settings -> the dataset: x/y for train, val and test, its fingerprint
    identity: Callable  # (settings, dataset) -> what a run's configuration records of the data besides its hash
    model: str  # the network it trains unless -p model says otherwise (lrlab.models.MODELS)
    networks: tuple  # every network that takes its examples: images, or windows of character ids
    data_name: str  # "CIFAR-10", "Tiny Shakespeare"
    examples: str  # what the training set counts, for the report's prose: "images", "windows of 64 characters"
    metric_display: str  # "accuracy", "next-character accuracy": what the accuracy counts
    metric: Metric = ACCURACY  # what ranks its configurations
    classes: list = field(default_factory=list)  # CIFAR-10 label ids it keeps; [] where the data decides
    reference: str = ""  # a published result on it, to check the task against before comparing methods


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    if task.name in TASKS:
        raise ValueError(f"task {task.name!r} is already registered")
    TASKS[task.name] = task
    return task


def _classes(settings, dataset) -> dict:
    # runs stored before tasks existed recorded the classes alone: a CIFAR task's runs keep those ids
    return {"classes": list(settings.classes)}


def _classes_and_task(settings, dataset) -> dict:
    return {"classes": list(settings.classes), "task": settings.task}


def _alphabet(settings, dataset) -> dict:
    return {"task": "shakespeare_char", "vocabulary": len(dataset["alphabet"]), "context": shakespeare.CONTEXT}


register(Task("cifar_catdog", "cat vs dog (2 CIFAR-10 classes, chance 50%)", load=data.load_dataset,
              identity=_classes, model="seed_cnn", networks=IMAGE_NETWORKS, data_name="CIFAR-10", examples="images",
              metric_display="accuracy", classes=[CAT, DOG]))
register(Task("cifar10", "all 10 CIFAR-10 classes (chance 10%)", load=data.load_dataset, identity=_classes,
              model="vgg_bn", networks=IMAGE_NETWORKS, data_name="CIFAR-10", examples="images",
              metric_display="accuracy", classes=list(range(10))))
register(Task("cifar10_resnet20", "all 10 CIFAR-10 classes, ResNet-20 with He et al.'s augmentation (chance 10%)",
              load=data.load_dataset, identity=_classes_and_task, model="resnet20", networks=IMAGE_NETWORKS,
              data_name="CIFAR-10", examples="images", metric_display="accuracy", classes=list(range(10)),
              reference="He et al. 2016: 91.25% test accuracy (SGD, momentum 0.9, rate 0.1 divided by 10 at 32k and "
                        "48k of 64k iterations, batch 128); benchmarks/resnet20_reference.py reproduces the recipe on "
                        "a GPU (target 90.7%: this repository's CIFAR-10 was rebuilt from JPEG files)"))
register(Task("shakespeare_char", "Tiny Shakespeare, the next character (65 characters)",
              load=shakespeare.load_dataset, identity=_alphabet, model="char_transformer", networks=TEXT_NETWORKS,
              data_name="Tiny Shakespeare", examples=f"windows of {shakespeare.CONTEXT} characters",
              metric_display="next-character accuracy", metric=LOSS,
              reference="nanoGPT reports a validation loss of about 1.88 for its CPU configuration (4 layers, 128 "
                        "dimensions, 2,000 iterations, estimated on 20 batches); on the whole validation split "
                        "`char_transformer` at that size gives 1.906 and nanoGPT itself, run on the same machine, "
                        "1.905 (means of 6 seeds each; 95% CI of the difference −0.011 to +0.011): the same "
                        "result (benchmarks/nanogpt_reference.py, docs/performance.md)"))


def load_dataset(settings) -> dict:
    """The dataset of the settings' task."""
    return TASKS[settings.task].load(settings)


def n_classes(data_config: dict) -> int:
    """How many outcomes one prediction chooses from, read from a run's stored data configuration: its classes, or
    its text's alphabet."""
    return len(data_config["classes"]) if "classes" in data_config else data_config["vocabulary"]


def of_run(data_config: dict) -> Task:
    """The task a stored run's data configuration belongs to (runs stored before tasks existed name none: CIFAR)."""
    if "task" in data_config:
        return TASKS[data_config["task"]]
    return TASKS["cifar_catdog"] if data_config["classes"] == [CAT, DOG] else TASKS["cifar10"]


def task_of(runs) -> str:
    """The task a table's rows belong to (its `task` column), "" where it has none (a hand-made table: accuracy).
    A table computed from them carries it, so that what formats that table reads the same metric (metric_of)."""
    return runs["task"].iloc[0] if "task" in runs and len(runs) else ""


def metric_of(runs) -> Metric:
    """The metric of the task a table's runs belong to (its `task` column), or one row's (a Series or dict with a
    `task`); a table without one, or without rows, is an accuracy task's: every run stored before tasks existed
    was."""
    if runs is None or "task" not in runs or not len(runs):
        return ACCURACY
    task = runs["task"]
    task = task.iloc[0] if hasattr(task, "iloc") else task  # a table's column, or one row's value
    return TASKS[task].metric if isinstance(task, str) and task in TASKS else ACCURACY
