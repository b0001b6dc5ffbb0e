"""Optimizers with every argument set explicitly: Keras 3's defaults differ from Keras 2's, and a run's settings
must not depend on them."""

# Each method's settings; the learning rate lives in the run's schedule, not here. The first four are the 2017
# experiment's; SGD with momentum and with Nesterov momentum are the references a careful comparison needs, and
# AdamW, Nadam, Adamax and Lion the methods that came after (at the defaults their authors recommend).
ADAPTIVE_DEFAULTS = {
    "adagrad": {"lr": 0.01, "epsilon": 1e-8},
    "adadelta": {"lr": 1.0, "rho": 0.95, "epsilon": 1e-8},
    "rmsprop": {"lr": 0.001, "rho": 0.9, "epsilon": 1e-8},
    "adam": {"lr": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8},
    "sgd_momentum": {"lr": 0.01, "momentum": 0.9},
    "sgd_nesterov": {"lr": 0.01, "momentum": 0.9},
    "adamw": {"lr": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8, "weight_decay": 0.01},
    "nadam": {"lr": 0.002, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8},
    "adamax": {"lr": 0.002, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8},
    "lion": {"lr": 0.0001, "beta_1": 0.9, "beta_2": 0.99},
}
CLASSIC_ADAPTIVE = ["adagrad", "adadelta", "rmsprop", "adam"]

DISPLAY_NAMES = {"sgd": "SGD", "adagrad": "Adagrad", "adadelta": "Adadelta", "rmsprop": "RMSprop", "adam": "Adam",
                 "sgd_momentum": "SGD+momentum", "sgd_nesterov": "SGD+Nesterov", "adamw": "AdamW", "nadam": "Nadam",
                 "adamax": "Adamax", "lion": "Lion", "custom": "your optimizer"}


def build_optimizer(spec: dict, learning_rate):
    """`spec` is the run configuration's optimizer entry: {"name": ..., **settings}."""
    import keras

    s = {k: v for k, v in spec.items() if k != "name"}
    name = spec["name"]
    o = keras.optimizers
    if name in ("sgd", "sgd_momentum", "sgd_nesterov"):
        return o.SGD(learning_rate=learning_rate, momentum=s["momentum"], nesterov=name == "sgd_nesterov")
    if name == "adagrad":
        # Keras 2 started the accumulator at zero; Keras 3 defaults to 0.1
        return o.Adagrad(learning_rate=learning_rate, initial_accumulator_value=0.0, epsilon=s["epsilon"])
    if name == "adadelta":
        return o.Adadelta(learning_rate=learning_rate, rho=s["rho"], epsilon=s["epsilon"])
    if name == "rmsprop":
        return o.RMSprop(learning_rate=learning_rate, rho=s["rho"], momentum=0.0, epsilon=s["epsilon"], centered=False)
    if name == "adam":
        return o.Adam(learning_rate=learning_rate, beta_1=s["beta_1"], beta_2=s["beta_2"], epsilon=s["epsilon"],
                      amsgrad=False)
    if name == "adamw":
        return o.AdamW(learning_rate=learning_rate, weight_decay=s["weight_decay"], beta_1=s["beta_1"],
                       beta_2=s["beta_2"], epsilon=s["epsilon"], amsgrad=False)
    if name == "nadam":
        return o.Nadam(learning_rate=learning_rate, beta_1=s["beta_1"], beta_2=s["beta_2"], epsilon=s["epsilon"])
    if name == "adamax":
        return o.Adamax(learning_rate=learning_rate, beta_1=s["beta_1"], beta_2=s["beta_2"], epsilon=s["epsilon"])
    if name == "lion":
        return o.Lion(learning_rate=learning_rate, beta_1=s["beta_1"], beta_2=s["beta_2"])
    raise ValueError(f"unknown optimizer {name!r}: choose one of {', '.join(DISPLAY_NAMES)}")

