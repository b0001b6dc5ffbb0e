"""One place to add a method or a schedule: a throwaway optimizer and a throwaway schedule, declared through the
registries alone (in a module named by LRLAB_PLUGINS), are trained, stored, plotted and reported by the smoke
build like the project's own."""

import json
import os
import re
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from conftest import ROOT, build

PLUGIN = textwrap.dedent('''
    from lrlab.optimizers import Method, register
    from lrlab.schedules import Schedule, register as register_schedule


    def _adam_fast_beta2(settings, lr):
        import keras

        return keras.optimizers.Adam(learning_rate=lr, beta_1=settings["beta_1"], beta_2=settings["beta_2"],
                                     epsilon=1e-7, amsgrad=False)


    def _warmdown(t, lr0, decay_steps):
        return lr0 * max(0.0, 1 - t / decay_steps)


    def _warmdown_keras(p):
        import keras

        return keras.optimizers.schedules.PolynomialDecay(p["lr0"], decay_steps=p["decay_steps"],
                                                          end_learning_rate=0.0, power=1.0)


    register(Method("throwaway_adam", "Throwaway Adam", _adam_fast_beta2, {"lr": 0.002, "beta_1": 0.9,
                                                                          "beta_2": 0.95}, "#123456"))
    register_schedule(Schedule("throwaway_warmdown", "throwaway warm-down", _warmdown, True, "#654321",
                               lambda p: f"throwaway warm-down lr0={p['lr0']:g} over {p['decay_steps']:g} batches",
                               keras=_warmdown_keras, modern_spec=lambda lr0, total, family: {"decay_steps": total}))
''')


@pytest.fixture
def plugin(tmp_path):
    (tmp_path / "throwaway_methods.py").write_text(PLUGIN)
    return os.environ | {"LRLAB_PLUGINS": "throwaway_methods",
                         "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}


def test_a_registered_method_and_schedule_join_every_list(plugin):
    script = ("import lrlab.config, lrlab.parameters as p, lrlab.optimizers as o, lrlab.schedules as s; "
              "print(json.dumps([lrlab.config.PROFILES['smoke']['optimizers'], o.DISPLAY_NAMES['throwaway_adam'], "
              "s.MODERN, p.PARAMETERS['throwaway_adam_beta_2'].default, s.display_name('throwaway_warmdown')]))")
    done = subprocess.run([sys.executable, "-c", "import json; " + script], capture_output=True, text=True,
                          env=plugin | {"PYTHONPATH": plugin["PYTHONPATH"] + os.pathsep + str(ROOT / "lib")})
    assert done.returncode == 0, done.stderr[-2000:]
    optimizers, display, modern, beta_2, schedule = json.loads(done.stdout)
    assert optimizers[-1] == "throwaway_adam" and display == "Throwaway Adam" and beta_2 == 0.95
    assert modern[-1] == "throwaway_warmdown" and schedule == "throwaway warm-down"


def test_a_plugin_that_cannot_be_imported_is_one_line(tmp_path):
    done = build("--profile", "smoke", "--only", "constant", "-p", f"output_dir={tmp_path}",
                 env=os.environ | {"LRLAB_PLUGINS": "no_such_module_here"})
    assert done.returncode != 0
    assert "LRLAB_PLUGINS names 'no_such_module_here', which cannot be imported" in done.stderr


@pytest.mark.slow
def test_a_throwaway_method_and_schedule_are_trained_stored_plotted_and_reported(tmp_path, plugin):
    out = tmp_path / "outputs"
    done = build("--profile", "smoke", "--only", "constant,modern_schedules,adaptive", "-p", f"output_dir={out}",
                 "-p", 'optimizers=["adam","throwaway_adam"]', "-p", 'schedules=["cosine_decay","throwaway_warmdown"]',
                 env=plugin)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = out / "smoke" / "runs"
    mine = [json.loads(p.read_text()) for p in runs.glob("*/config.json")]
    assert any(c["optimizer"]["name"] == "throwaway_adam" and c["optimizer"]["beta_2"] == 0.95 for c in mine)
    warmdown = [c for c in mine if c["schedule"]["name"] == "throwaway_warmdown"]
    assert len(warmdown) == 1 and warmdown[0]["schedule"]["decay_steps"] > 0
    # its rate per epoch is the closed form's, as the optimizer applied it
    folder = next(p.parent for p in runs.glob("*/config.json")
                  if json.loads(p.read_text())["schedule"]["name"] == "throwaway_warmdown")
    history = pd.read_csv(folder / "history.csv")
    steps = warmdown[0]["schedule"]["decay_steps"] / warmdown[0]["epochs"]
    assert history["lr"].tolist() == pytest.approx([0.1 * (1 - e * steps / warmdown[0]["schedule"]["decay_steps"])
                                                    for e in range(len(history))], rel=1e-6)
    html = (out / "smoke" / "report.html").read_text()
    summary = pd.read_csv(out / "smoke" / "summary.csv")
    assert {"Throwaway Adam (lr=0.002)"} <= set(summary["configuration"])
    assert any(c.startswith("SGD, throwaway warm-down") for c in summary["configuration"])
    # in the figures' alt texts and the tables, in its own colours
    assert re.search(r'alt="[^"]*Throwaway Adam', html) or "Throwaway Adam" in html
    assert "#123456" in html and "#654321" in html
