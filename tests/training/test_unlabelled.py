"""Label-free distillation: ``data.unlabelled_root`` checked, one unlabelled batch per labelled
batch, the unlabelled one trained by the distillation terms alone (normalised with its own
BatchNorm statistics, which it leaves untouched unless ``unlabelled_bn="update"``), refused for
teachers and method ``none``, and a short ``hicd fit`` end to end."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from hicd.cli.main import main
from hicd.data import IGNORE_INDEX
from hicd.errors import ConfigError
from hicd.training import ChangeDataModule, StudentModule
from hicd.training.data import LABELLED, UNLABELLED

SYNTHETIC = {"train": 4, "val": 2, "test": 2, "size": 48, "seed": 1}


@pytest.fixture
def unlabelled(tmp_path, png_writer, pair_maker):
    """``unlabelled(names, size=(48, 48), sizes={name: (h, w) of its B image})``: write
    ``A/``, ``B/`` of unlabelled pairs (no ``label/``) and return the folder."""

    def make(names=("u0", "u1", "u2"), size=(48, 48), sizes=None) -> Path:
        root = tmp_path / "unlabelled"
        for index, name in enumerate(names):
            t1, _, _ = pair_maker(100 + index, size)
            _, t2, _ = pair_maker(200 + index, (sizes or {}).get(name, size))
            png_writer(root / "A" / f"{name}.png", t1)
            png_writer(root / "B" / f"{name}.png", t2)
        return root

    return make


def data_module(root: Path | str, **options) -> ChangeDataModule:
    options = {"crop_size": 32, "batch_size": 2, "num_workers": 0, **options}
    return ChangeDataModule(synthetic=SYNTHETIC, unlabelled_root=str(root), **options)


# -- the folder, checked --------------------------------------------------------------------


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"^data\.unlabelled_root: .*nowhere not found"):
        data_module(tmp_path / "nowhere")


def test_a_folder_with_labels_is_refused(unlabelled, png_writer):
    root = unlabelled()
    png_writer(root / "label" / "u0.png", torch.zeros(48, 48, dtype=torch.uint8).numpy())
    with pytest.raises(ConfigError, match=r"^data\.unlabelled_root: .* has labels .*data\.root"):
        data_module(root)


@pytest.mark.parametrize("folder", ["A", "B"])
def test_a_pair_without_partner_is_refused_naming_the_file(unlabelled, png_writer, folder):
    root = unlabelled()
    png_writer(root / folder / "lonely.png", torch.zeros(48, 48, 3, dtype=torch.uint8).numpy())
    data = data_module(root)  # partners are checked with the pairs, when fitting starts
    with pytest.raises(ConfigError) as error:
        data.setup("fit")
    message = str(error.value)
    assert message.startswith(f"data.unlabelled_root: {root / folder / 'lonely.png'}: ")
    assert "missing partner" in message and "\n" not in message


def test_a_pair_of_two_sizes_is_refused_naming_the_file(unlabelled):
    root = unlabelled(sizes={"u1": (40, 48)})
    with pytest.raises(ConfigError, match=r"data\.unlabelled_root: .*u1\.png: size 48×40 differs"):
        data_module(root).setup("fit")


def test_the_train_list_picks_the_pairs(unlabelled):
    root = unlabelled(sizes={"u2": (40, 48)})  # left out by the list, so never checked
    (root / "list").mkdir()
    (root / "list" / "train.txt").write_text("u0.png\nu1\n")
    data = data_module(root)
    data.setup("fit")
    assert data.datasets[UNLABELLED].dataset.names == ["u0", "u1"]


# -- the loader -------------------------------------------------------------------------------


def test_each_step_gets_a_labelled_and_an_unlabelled_batch(unlabelled):
    data = data_module(unlabelled(), cache_images=True)
    data.setup("validate")
    assert UNLABELLED not in data.datasets  # only fitting reads the unlabelled pairs
    data.setup("fit")
    loader = data.train_dataloader()
    batches = [batch for _ in range(2) for batch, *_ in loader]
    # One epoch is one pass over the labelled crops (4 in batches of 2), as without them.
    assert len(batches) == 4 and len(loader) == 2
    unlabelled_names = []
    for batch in batches:
        assert set(batch) == {LABELLED, UNLABELLED}
        for part in batch.values():
            assert part["t1"].shape == part["t2"].shape == (2, 3, 32, 32)  # same crops
        assert torch.all(batch[UNLABELLED]["mask"] == IGNORE_INDEX)
        assert set(batch[LABELLED]["mask"].unique().tolist()) <= {0, 1}
        unlabelled_names += batch[UNLABELLED]["name"]
    # 4 draws per epoch from 3 pairs: every pair once before any twice.
    for epoch in (unlabelled_names[:4], unlabelled_names[4:]):
        assert set(epoch[:3]) == {"u0", "u1", "u2"}
    cached = data.datasets[UNLABELLED].dataset.samples
    assert sorted(cached) == [0, 1, 2]


def test_without_unlabelled_root_the_loader_is_unchanged():
    data = ChangeDataModule(synthetic=SYNTHETIC, crop_size=32, batch_size=2, num_workers=0)
    batch = next(iter(data.train_dataloader()))
    assert "t1" in batch and LABELLED not in batch


# -- the student ------------------------------------------------------------------------------


def pairs(count: int = 2, size: int = 64, seed: int = 0, labels: bool = True) -> dict:
    generator = torch.Generator().manual_seed(seed)
    batch = {
        "t1": torch.rand(count, 3, size, size, generator=generator),
        "t2": torch.rand(count, 3, size, size, generator=generator),
        "name": [f"pair_{seed}_{i}" for i in range(count)],
    }
    if labels:
        batch["mask"] = torch.randint(0, 2, (count, size, size), generator=generator)
    return batch


class _Spy:
    """Stands in for the task loss and records the batch size of each call."""

    def __init__(self, loss) -> None:
        self.loss, self.calls = loss, []

    def __call__(self, logits, mask):
        self.calls.append(int(logits.shape[0]))
        return self.loss(logits, mask)


def test_the_unlabelled_batch_trains_on_the_distillation_terms_alone(teacher_checkpoint):
    module = StudentModule(str(teacher_checkpoint), crop_size=64, unlabelled_weight=0.5).train()
    spy = module.task_loss = _Spy(module.task_loss)
    logged = {}
    module.log_loss = lambda loss, terms, batch_size: logged.update(terms, loss=loss)
    # The unlabelled part has no mask at all: nothing may read one.
    batch = {LABELLED: pairs(count=2), UNLABELLED: pairs(count=3, seed=1, labels=False)}
    batch = module.on_after_batch_transfer(batch, 0)
    for part in batch.values():  # both degraded, as for labelled batches
        assert not torch.allclose(part["student_t2"], part["t2"], atol=1e-3)
        assert torch.equal(part["student_t1"], part["t1"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss = module.training_step(batch, 0)

    assert spy.calls == [2]  # the task loss, once, on the labelled batch only
    assert {"cd", "sfd", "cfd", "unlabelled/sfd", "unlabelled/cfd"} <= set(logged)
    assert not any(name.startswith("unlabelled/cd") for name in logged)
    assert "unlabelled/sfd/self_t1/l0" in logged
    labelled_loss = logged["cd"] + logged["sfd"] + logged["cfd"]
    unlabelled_loss = logged["unlabelled/sfd"] + logged["unlabelled/cfd"]
    torch.testing.assert_close(logged["unlabelled/loss"], unlabelled_loss)
    torch.testing.assert_close(loss, labelled_loss + 0.5 * unlabelled_loss)
    assert loss.requires_grad


def _norms(module: StudentModule) -> list[nn.Module]:
    return [m for m in module.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@pytest.mark.parametrize("mode", ["batch", "update"])
def test_unlabelled_batches_leave_the_running_statistics_unless_asked(teacher_checkpoint, mode):
    """``unlabelled_bn="batch"`` (the default): the unlabelled batch is normalised with its own
    statistics, as in any training step, and the student's running statistics (and
    ``num_batches_tracked``), which inference uses, come from the labelled batches alone;
    ``update``: from both."""
    steps, calls = {}, []
    for part in (LABELLED, "both"):
        torch.manual_seed(0)  # the same student and degradations both times
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = StudentModule(str(teacher_checkpoint), crop_size=64, unlabelled_bn=mode)
        module.train().log_loss = lambda *args: None
        norms = _norms(module)
        if part == "both":  # how the first BatchNorm normalises in each forward pass
            norms[0].register_forward_pre_hook(
                lambda m, _: calls.append((m.training, m.track_running_stats))
            )
        batch = pairs(count=2)
        if part == "both":  # other imagery, far from the labelled pairs' statistics
            other = pairs(count=2, seed=1, labels=False)
            other |= {"t1": other["t1"] * 0.1, "t2": other["t2"] * 0.1}
            batch = {LABELLED: batch, UNLABELLED: other}
        module.training_step(module.on_after_batch_transfer(batch, 0), 0)
        steps[part] = [b.clone() for m in norms for b in m.buffers()]
        assert norms and all(m.training and m.track_running_stats for m in norms)  # restored
    # labelled, then unlabelled forward: batch statistics both times (train mode); tracked
    # (the running statistics updated) on the unlabelled one only with "update"
    assert calls == [(True, True), (True, mode == "update")]
    same = all(torch.equal(a, b) for a, b in zip(steps[LABELLED], steps["both"], strict=True))
    assert same == (mode == "batch")


def test_an_unknown_unlabelled_bn_mode_is_refused(teacher_checkpoint):
    with pytest.raises(
        ConfigError, match=r"model\.unlabelled_bn: 'frozen' is not one of batch, update"
    ):
        StudentModule(str(teacher_checkpoint), unlabelled_bn="frozen")


def test_teacher_and_method_none_refuse_unlabelled_data(
    unlabelled, configs, tiny_overlay, tiny_network_overlay, teacher_checkpoint, tmp_path, capsys
):
    root = unlabelled(size=(64, 64))
    none = StudentModule(str(teacher_checkpoint), distillation={"method": "none"})
    with pytest.raises(ConfigError, match="'none' has no label-free term"):
        none.check_unlabelled()
    StudentModule(str(teacher_checkpoint)).check_unlabelled()  # hicd: accepted

    common = ["--config", str(tiny_overlay), "--data.unlabelled_root", str(root)]
    runs = {
        "a teacher learns from labels alone": [
            "--config", str(configs / "synthetic" / "teacher.yaml"),
            *common,
            "--config", str(tiny_network_overlay),
        ],
        "data.unlabelled_root needs a distillation method; method 'none' has no label-free": [
            "--config", str(configs / "synthetic" / "student_none.yaml"),
            *common,
            "--model.init_args.teacher_checkpoint", str(teacher_checkpoint),
        ],
    }  # fmt: skip
    for index, (message, argv) in enumerate(runs.items()):
        run_dir = ["--trainer.default_root_dir", str(tmp_path / f"run{index}")]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert main(["fit", *argv, *run_dir]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("hicd: error: data.unlabelled_root") and message in error
        assert "\n" not in error


def test_fit_with_unlabelled_pairs(unlabelled, configs, run_fit, tiny_overlay, teacher_checkpoint):
    root = unlabelled(names=("u0", "u1", "u2"), size=(64, 64))
    run = root.parent / "student"
    cli = run_fit(
        [
            "--config", str(configs / "synthetic" / "student_hicd.yaml"),
            "--config", str(tiny_overlay),
            "--model.init_args.teacher_checkpoint", str(teacher_checkpoint),
            "--model.init_args.distillation.teacher_bn", "recalibrate",
            "--model.init_args.distillation.recalibrate_batches", "1",
            "--data.unlabelled_root", str(root),
            "--trainer.default_root_dir", str(run),
        ]
    )  # fmt: skip
    assert cli.trainer.global_step == 2
    assert cli.model.recalibrated_batches == 1  # on the labelled loader's batches
    with (run / "version_0" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    columns = set(rows[0])
    assert {"train/loss", "train/cd", "train/unlabelled/loss", "train/unlabelled/sfd"} <= columns
    assert "train/unlabelled/cd" not in columns
    assert any(row["train/unlabelled/cfd"] for row in rows)
    assert any(row.get("val/f1") for row in rows)
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 2
    assert all(key.startswith("model.") for key in checkpoint["state_dict"])
