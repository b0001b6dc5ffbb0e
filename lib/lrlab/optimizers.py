"""Optimizers with every argument set explicitly: Keras 3's defaults differ from Keras 2's, and the 2017
settings must not depend on them."""

# The 2017 experiment's settings; the learning rate lives in the run's schedule, not here.
ADAPTIVE_DEFAULTS = {
    "adagrad": {"lr": 0.01, "epsilon": 1e-8},
    "adadelta": {"lr": 1.0, "rho": 0.95, "epsilon": 1e-8},
    "rmsprop": {"lr": 0.001, "rho": 0.9, "epsilon": 1e-8},
    "adam": {"lr": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8},
}

DISPLAY_NAMES = {"sgd": "SGD", "adagrad": "Adagrad", "adadelta": "Adadelta", "rmsprop": "RMSprop", "adam": "Adam"}


def build_optimizer(spec: dict, learning_rate):
    """`spec` is the run configuration's optimizer entry: {"name": ..., **settings}."""
    import keras

    s = {k: v for k, v in spec.items() if k != "name"}
    name = spec["name"]
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=s["momentum"], nesterov=False)
    if name == "adagrad":
        # Keras 2 started the accumulator at zero; Keras 3 defaults to 0.1
        return keras.optimizers.Adagrad(learning_rate=learning_rate, initial_accumulator_value=0.0,
                                        epsilon=s["epsilon"])
    if name == "adadelta":
        return keras.optimizers.Adadelta(learning_rate=learning_rate, rho=s["rho"], epsilon=s["epsilon"])
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate, rho=s["rho"], momentum=0.0,
                                        epsilon=s["epsilon"], centered=False)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=s["beta_1"], beta_2=s["beta_2"],
                                     epsilon=s["epsilon"], amsgrad=False)
    raise ValueError(f"unknown optimizer {name!r}: choose one of {', '.join(DISPLAY_NAMES)}")
