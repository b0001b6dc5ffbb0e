"""Network architectures, built by name so a run's configuration can say which one it used."""

import keras
from keras import layers


def seed_cnn(input_shape=(32, 32, 3), n_classes=2):
    """The 2017 experiment's small CNN: 25,546 parameters for two classes."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(4, (3, 3), activation="relu"),
            layers.Conv2D(8, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(16, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(n_classes, activation="softmax"),
        ],
        name="seed_cnn",
    )


MODELS = {"seed_cnn": seed_cnn}


def build_model(name, input_shape, n_classes):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name](input_shape=input_shape, n_classes=n_classes)
