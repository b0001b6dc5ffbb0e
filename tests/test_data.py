"""The CIFAR-10 loader on generated archives in the official format, and its errors."""

import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from lrlab import data
from lrlab.data import DataError, load_cifar10, select_classes, write_synthetic_cifar10


@pytest.mark.parametrize("compression", ["gz", "xz", "bz2", None])
def test_loads_every_layout(tmp_path, compression):
    target = tmp_path / ("cifar" if compression is None else f"cifar-10-python.tar.{compression}")
    write_synthetic_cifar10(target, images_per_class=20, test_images_per_class=5, compression=compression)
    arrays = load_cifar10(str(target), cache_dir=tmp_path / "cache")
    assert arrays["x_train"].shape == (200, 32, 32, 3) and arrays["x_train"].dtype == np.uint8
    assert arrays["x_test"].shape == (50, 32, 32, 3)
    assert np.bincount(arrays["y_train"]).tolist() == [20] * 10
    assert np.bincount(arrays["y_test"]).tolist() == [5] * 10


def test_extracted_folder_itself_is_accepted(tmp_path):
    write_synthetic_cifar10(tmp_path / "copy", images_per_class=10, test_images_per_class=2, compression=None)
    a = load_cifar10(str(tmp_path / "copy" / "cifar-10-batches-py"), cache_dir=tmp_path / "cache")
    b = load_cifar10(str(tmp_path / "copy"), cache_dir=tmp_path / "cache")
    assert a["fingerprint"] == b["fingerprint"]
    np.testing.assert_array_equal(a["x_train"], b["x_train"])


def test_pixels_keep_the_channel_first_row_layout(tmp_path):
    """A row is 1024 red, then 1024 green, then 1024 blue values, each 32×32 row-major."""
    row = np.arange(3072) % 251
    batch = {b"data": np.tile(row, (2, 1)).astype(np.uint8), b"labels": [3, 5]}
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in data.TRAIN_BATCHES + [data.TEST_BATCH]:
        (folder / name).write_bytes(pickle.dumps(batch, protocol=3))
    arrays = load_cifar10(str(tmp_path), cache_dir=tmp_path / "cache")
    image = arrays["x_train"][0]
    assert image[0, 0].tolist() == [row[0], row[1024], row[2048]]
    assert image[1, 2].tolist() == [row[34], row[1024 + 34], row[2048 + 34]]


def test_cache_is_written_once_and_reused(synthetic_archive, tmp_path):
    first = load_cifar10(str(synthetic_archive), cache_dir=tmp_path)
    cached = list(tmp_path.glob("cifar10-*.npz"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    second = load_cifar10(str(synthetic_archive), cache_dir=tmp_path)
    assert cached[0].stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(first["x_test"], second["x_test"])


def test_environment_variable_is_a_source(synthetic_archive, monkeypatch, tmp_path):
    monkeypatch.setenv("LRLAB_CIFAR10", str(synthetic_archive))
    assert load_cifar10(None, cache_dir=tmp_path)["x_train"].shape[0] == 1000


def test_select_classes_relabels_and_scales(synthetic_archive, tmp_path):
    arrays = load_cifar10(str(synthetic_archive), cache_dir=tmp_path)
    subset = select_classes(arrays, [3, 5])
    assert subset["class_names"] == ["cat", "dog"]
    assert len(subset["y_train"]) == 200 and set(subset["y_train"]) == {0, 1}
    cats = arrays["x_train"][arrays["y_train"] == 3]
    np.testing.assert_allclose(subset["x_train"][subset["y_train"] == 0], cats / 255.0, rtol=1e-6)
    assert subset["x_train"].dtype == np.float32 and subset["x_train"].max() <= 1.0


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="CIFAR-10 not found at .*nowhere.tar.gz"):
        load_cifar10(str(tmp_path / "nowhere.tar.gz"))


def test_corrupt_archive_is_a_clear_error(tmp_path):
    bad = tmp_path / "cifar-10-python.tar.gz"
    bad.write_bytes(os.urandom(4096))
    with pytest.raises(DataError, match="not a readable tar archive") as err:
        load_cifar10(str(bad), cache_dir=tmp_path)
    assert "\n" not in str(err.value)  # one line, not tarfile's list of every compression it tried


def test_truncated_archive_is_a_clear_error(synthetic_archive, tmp_path):
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(synthetic_archive.read_bytes()[: synthetic_archive.stat().st_size // 2])
    with pytest.raises(DataError):
        load_cifar10(str(cut), cache_dir=tmp_path)


def test_archive_without_batches_is_a_clear_error(tmp_path):
    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        info = tarfile.TarInfo("readme.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(DataError, match="lacks data_batch_1"):
        load_cifar10(str(other), cache_dir=tmp_path)


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_pickle_that_runs_a_command_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "evil" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in data.TRAIN_BATCHES + [data.TEST_BATCH]:
        (folder / name).write_bytes(pickle.dumps({b"data": _Payload(), b"labels": [0]}, protocol=3))
    with pytest.raises(DataError, match="refusing to load posix.system"):
        load_cifar10(str(tmp_path / "evil"), cache_dir=tmp_path / "cache")
    assert not (tmp_path / "PWNED").exists()


def test_no_dataset_offline_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("LRLAB_CIFAR10", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # a closed port: the download fails at once, online or not
    with pytest.raises(DataError, match="no CIFAR-10 available offline.*LRLAB_CIFAR10"):
        load_cifar10(None)


def test_generated_archives_are_byte_identical(tmp_path):
    a = write_synthetic_cifar10(tmp_path / "a.tar.gz", images_per_class=5, test_images_per_class=1)
    b = write_synthetic_cifar10(tmp_path / "b.tar.gz", images_per_class=5, test_images_per_class=1)
    assert a.read_bytes() == b.read_bytes()


def test_an_altered_official_archive_is_refused_and_can_be_pinned(tmp_path, monkeypatch):
    fake = tmp_path / "cifar-10-python.tar.gz"
    with open(fake, "wb") as f:
        f.truncate(data.OFFICIAL_SIZE)  # the official size, but not the official bytes
    with pytest.raises(DataError, match="official CIFAR-10 archive's size but SHA-256 .* damaged or altered"):
        load_cifar10(str(fake), cache_dir=tmp_path)
    digest = data.file_sha256(fake)
    monkeypatch.setenv("LRLAB_CIFAR10_SHA256", digest)  # the documented way to accept another copy
    with pytest.raises(DataError, match="not the CIFAR-10 python archive"):  # past the hash check, on to reading
        load_cifar10(str(fake), cache_dir=tmp_path)


def test_a_pinned_hash_refuses_any_other_copy(synthetic_archive, tmp_path, monkeypatch):
    monkeypatch.setenv("LRLAB_CIFAR10_SHA256", "0" * 64)
    with pytest.raises(DataError, match="not the 0{64} that LRLAB_CIFAR10_SHA256 pins"):
        load_cifar10(str(synthetic_archive), cache_dir=tmp_path)
    monkeypatch.setenv("LRLAB_CIFAR10_SHA256", data.file_sha256(synthetic_archive))
    assert load_cifar10(str(synthetic_archive), cache_dir=tmp_path)["x_train"].shape[0] == 1000
