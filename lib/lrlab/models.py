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


def vgg_bn(input_shape=(32, 32, 3), n_classes=10):
    """A small VGG-style network with batch normalization: three blocks of two 3×3 convolutions (32, 64, 128
    filters), each followed by max pooling, then global average pooling. Deep enough that its learning rate and
    schedule matter, small enough for a laptop GPU."""
    blocks = []
    for filters in (32, 64, 128):
        for _ in range(2):
            blocks += [layers.Conv2D(filters, (3, 3), padding="same", use_bias=False), layers.BatchNormalization(),
                       layers.Activation("relu")]
        blocks += [layers.MaxPooling2D((2, 2)), layers.Dropout(0.2)]
    return keras.Sequential(
        [keras.Input(shape=input_shape), *blocks, layers.GlobalAveragePooling2D(),
         layers.Dense(n_classes, activation="softmax")],
        name="vgg_bn",
    )


MODELS = {"seed_cnn": seed_cnn, "vgg_bn": vgg_bn}


def build_model(name, input_shape, n_classes):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name](input_shape=input_shape, n_classes=n_classes)
