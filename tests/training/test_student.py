"""StudentModule: the on-the-fly quality difference, the frozen teacher, checkpoint contents."""

from __future__ import annotations

import warnings

import pytest
import torch

from hicd.errors import ConfigError
from hicd.models.checkpoint import load_model
from hicd.training import StudentModule


def batch(size: int = 64, count: int = 2) -> dict:
    generator = torch.Generator().manual_seed(0)
    return {
        "t1": torch.rand(count, 3, size, size, generator=generator),
        "t2": torch.rand(count, 3, size, size, generator=generator),
        "mask": torch.randint(0, 2, (count, size, size), generator=generator),
        "name": [f"pair_{i}" for i in range(count)],
    }


@pytest.fixture(scope="module")
def student(teacher_checkpoint) -> StudentModule:
    return StudentModule(str(teacher_checkpoint), degradation="multi-x4", crop_size=64)


@pytest.mark.parametrize("date", ["t1", "t2"])
def test_only_the_chosen_date_is_degraded(teacher_checkpoint, date):
    module = StudentModule(str(teacher_checkpoint), degradation="resolution-x4", degraded_date=date)
    clean = batch()
    copy = {key: value.clone() if torch.is_tensor(value) else value for key, value in clean.items()}
    other = {"t1": "t2", "t2": "t1"}[date]
    for training in (True, False):
        module.train(training)
        out = module.on_after_batch_transfer(clean, 0)
        # The teacher's pair stays clean; the student's other date is the clean image itself.
        assert torch.equal(out["t1"], copy["t1"]) and torch.equal(out["t2"], copy["t2"])
        assert out[f"student_{other}"] is clean[other]
        assert not torch.allclose(out[f"student_{date}"], clean[date], atol=1e-3)
        assert out[f"student_{date}"].shape == clean[date].shape
        assert [r["setting"] for r in out["degradation"]] == ["resolution-x4"] * 2


def test_mixed_student_degrades_a_drawn_date_per_sample(teacher_checkpoint):
    module = StudentModule(str(teacher_checkpoint), degradation="mixed", crop_size=64)
    clean = batch(count=8)
    for training in (True, False):
        module.train(training)
        out = module.degrade(clean)
        dates = [record["date"] for record in out["degradation"]]
        for i, date in enumerate(dates):
            other = {"t1": "t2", "t2": "t1"}[date]
            assert torch.equal(out[f"student_{other}"][i], clean[other][i])
        assert set(dates) == {"t1", "t2"}
    module.eval()
    again = module.degrade(clean)
    assert torch.equal(again["student_t1"], out["student_t1"])
    assert torch.equal(again["student_t2"], out["student_t2"])
    info = module.checkpoint_info()
    assert (info.degradation, info.degraded_date) == ("mixed", "either")
    assert (info.extra["unlabelled_weight"], info.extra["unlabelled_bn"]) == (1.0, "batch")
    dated = StudentModule(str(teacher_checkpoint), degradation="multi-x4@t1", crop_size=64)
    assert dated.checkpoint_info().degraded_date == "t1"


def test_eval_degradation_is_deterministic_and_training_is_random(student):
    student.eval()
    first = student.degrade(batch())["student_t2"]
    assert torch.equal(first, student.degrade(batch())["student_t2"])
    student.train()
    a, b = (student.degrade(batch())["student_t2"] for _ in range(2))
    assert not torch.equal(a, b)


def test_teacher_sees_the_clean_pair_and_student_the_degraded_one(student):
    seen = {}

    def spy(name):
        def hook(module, inputs, output):
            seen[name] = inputs

        return hook

    handles = [
        student.distiller.teacher.register_forward_hook(spy("teacher")),
        student.model.register_forward_hook(spy("student")),
    ]
    student.train()
    data = student.on_after_batch_transfer(batch(), 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # self.log without a trainer
        loss = student.training_step(data, 0)
    for handle in handles:
        handle.remove()
    assert torch.isfinite(loss) and loss.requires_grad
    assert torch.equal(seen["teacher"][0], data["t1"]) and torch.equal(
        seen["teacher"][1], data["t2"]
    )
    assert torch.equal(seen["student"][0], data["t1"])
    assert torch.equal(seen["student"][1], data["student_t2"])
    assert not torch.equal(seen["student"][1], data["t2"])
    assert not student.distiller.teacher.training


def test_teacher_is_frozen_and_not_optimised(student):
    trainable = {id(p) for p in student.trainable_parameters()}
    teacher = list(student.distiller.teacher.parameters())
    assert not trainable & {id(p) for p in teacher}
    assert not any(p.requires_grad for p in teacher)
    assert {id(p) for p in student.model.parameters()} <= trainable


def test_checkpoint_holds_the_student_once_and_reloads_strictly(student, tmp_path):
    # The student is saved once, under model.; the teacher never (it comes from its checkpoint).
    checkpoint = {"state_dict": student.state_dict()}
    assert all(key.startswith("model.") for key in checkpoint["state_dict"])
    student.on_save_checkpoint(checkpoint)
    assert checkpoint["hicd"]["role"] == "student"
    assert checkpoint["hicd"]["degradation"] == "multi-x4"
    assert checkpoint["hicd"]["tile_size"] == 64

    torch.save(checkpoint, tmp_path / "student.ckpt")
    model, info = load_model(tmp_path / "student.ckpt")
    assert info.method == "hicd"
    for key, value in model.state_dict().items():
        assert torch.equal(value, student.model.state_dict()[key])

    teacher = {k: v.clone() for k, v in student.distiller.teacher.state_dict().items()}
    student.load_state_dict(dict(checkpoint["state_dict"]), strict=True)
    for key, value in student.distiller.teacher.state_dict().items():
        assert torch.equal(value, teacher[key])


def test_init_from_teacher_and_method_none(teacher_checkpoint):
    copied = StudentModule(str(teacher_checkpoint), init_from_teacher=True)
    teacher, _ = load_model(teacher_checkpoint)
    for key, value in teacher.state_dict().items():
        assert torch.equal(copied.model.state_dict()[key], value)

    plain = StudentModule(str(teacher_checkpoint), distillation={"method": "none"})
    assert plain.distiller.teacher is None
    assert not any(key.startswith("distiller.teacher.") for key in plain.state_dict())
    assert plain.model.config == teacher.config


def test_bad_options(teacher_checkpoint):
    with pytest.raises(ConfigError, match="teacher_checkpoint"):
        StudentModule(None)
    with pytest.raises(ConfigError, match="degradation setting"):
        StudentModule(str(teacher_checkpoint), degradation="blurry")
    with pytest.raises(ConfigError, match="degraded_date"):
        StudentModule(str(teacher_checkpoint), degraded_date="t3")


def test_run_name():
    name = StudentModule.run_name(
        {"distillation": {"method": "none"}, "degradation": "resolution-x8"}
    )
    assert name == "student-none-resolution-x8"


def test_feature_student_keeps_its_adapters(teacher_checkpoint):
    module = StudentModule(str(teacher_checkpoint), distillation={"method": "feature"})
    adapters = {id(p) for p in module.distiller.objective.parameters()}
    assert adapters and adapters <= {id(p) for p in module.trainable_parameters()}
    checkpoint = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)
    kept = {key.split(".")[0] + "." + key.split(".")[1] for key in checkpoint["state_dict"]}
    assert kept <= {
        "model.encoder",
        "model.fusion",
        "model.decoder",
        "model.head",
        "distiller.objective",
    }
    assert any(key.startswith("distiller.objective.") for key in checkpoint["state_dict"])
    module.on_load_checkpoint(checkpoint)
    module.load_state_dict(checkpoint["state_dict"], strict=True)


@pytest.mark.parametrize("setting", ["multi-x4", "resolution-x4"])
def test_validation_inputs_equal_the_evaluation_dataset(teacher_checkpoint, shared_data, setting):
    """Validation during training degrades exactly as ``hicd evaluate`` and ``hicd degrade``
    (the dataset path): the same seed, names and rounding to the source's 8-bit levels."""
    from hicd.data import BitemporalDataset
    from hicd.training.data import ChangeDataModule

    root = shared_data / "levir-cd-256"
    module = StudentModule(str(teacher_checkpoint), degradation=setting, degradation_seed=0)
    data = ChangeDataModule(
        kind="generic", root=str(root), val_split="all", eval_batch_size=2, num_workers=0
    )
    reference = BitemporalDataset(root, "all", degradation=setting, degradation_seed=0)
    module.eval()
    loader = data.val_dataloader()
    batch_ = module.on_after_batch_transfer(next(iter(loader)), 0)
    for index, name in enumerate(batch_["name"]):
        expected = reference[reference.names.index(name)]["t2"]
        assert torch.equal(batch_["student_t2"][index], expected), name
        assert torch.equal(torch.round(expected * 255) / 255, expected)  # on 8-bit levels
    module.train()  # training degradations are rounded to the same levels
    trained = module.on_after_batch_transfer(next(iter(loader)), 0)["student_t2"]
    assert torch.equal(torch.round(trained * 255) / 255, trained)


def test_distillation_warm_up(teacher_checkpoint):
    module = StudentModule(str(teacher_checkpoint), distillation={"warmup_steps": 4})
    scales = [module.distillation_scale(step) for step in range(6)]
    assert scales == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert StudentModule(str(teacher_checkpoint)).distillation_scale(0) == 1.0


def test_one_task_loss_for_teacher_and_student(teacher_checkpoint):
    """``model.loss`` is set up once (``ChangeModule``) and added by the module, for teacher
    and student alike; the Distiller adds only the distillation terms."""
    from hicd.models.losses import TaskLossConfig
    from hicd.training import ChangeModule, TeacherModule

    network = {"pretrained": None, "options": {"decoder_channels": 16}}
    teacher = TeacherModule(network=network, loss={"dice_weight": 0.5})
    student = StudentModule(str(teacher_checkpoint), loss={"dice_weight": 0.5})
    assert teacher.task_loss == student.task_loss == TaskLossConfig(dice_weight=0.5)
    assert TeacherModule.task_terms is StudentModule.task_terms is ChangeModule.task_terms
    assert not hasattr(student.distiller, "loss")
