"""What a run learns: each task is one entry here (its data, its network, what it predicts, its reference), and
a profile or `-p task=NAME` picks one. Everything downstream reads the task from here: which loader a build calls,
which network a run trains, what the report calls the task and what one example is.

Every task is a classification of one example at a time: an image's class, or the next character after each
position of a window of text. So the loss is always the cross-entropy (lower is better), the metric the accuracy
(higher is better), and guessing is ln(classes) and 1/classes: the failure rule (lrlab.health) and every table
read the same columns for every task.
"""

from dataclasses import dataclass, field
from typing import Callable

from . import data, shakespeare

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
    metric_display: str  # "accuracy", "next-character accuracy"
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
              metric_display="next-character accuracy",
              reference="nanoGPT reports a validation loss of about 1.88 for its CPU configuration (4 layers, 128 "
                        "dimensions, 2,000 iterations, estimated on 20 batches); `char_transformer` at that size "
                        "gives 1.911 on the whole validation split (mean of 3 seeds), nanoGPT itself on the same "
                        "machine 1.899: not significantly different (benchmarks/nanogpt_reference.py)"))


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
