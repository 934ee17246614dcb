"""Distiller: frozen teacher, trainable student, terms and weights of every method.

The Distiller returns the distillation terms alone; the task loss L_CD is the trainer's
(``hicd.training.ChangeModule.task_terms``), added here by :func:`_trained` as it does.
"""

from __future__ import annotations

import copy

import pytest
import torch

from hicd.distillation import METHOD_NAMES, DistillationConfig, Distiller
from hicd.errors import ConfigError
from hicd.models.losses import TaskLossConfig

DISTILLING = [m for m in METHOD_NAMES if m != "none"]


def _distiller(tiny_model, method: str = "hicd", **options) -> Distiller:
    torch.manual_seed(0)
    teacher, student = tiny_model(width=6), tiny_model(width=4)
    return Distiller(student, teacher, DistillationConfig(method=method, **options))


def _run(distiller: Distiller, batch: dict, scale: float = 1.0):
    return distiller(
        batch["clean_t1"],
        batch["clean_t2"],
        batch["degraded_t1"],
        batch["degraded_t2"],
        scale=scale,
    )


def _trained(out, batch: dict, loss: TaskLossConfig | None = None) -> torch.Tensor:
    """What a training step back-propagates: L_CD on the student's logits plus the Distiller's
    loss (``StudentModule.training_step``)."""
    return (loss or TaskLossConfig())(out.student.logits, batch["mask"])["cd"] + out.loss


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_teacher_frozen_and_not_optimised(tiny_model, batch, method):
    distiller = _distiller(tiny_model, method).train()
    teacher_ids = {id(p) for p in distiller.teacher.parameters()}
    params = list(distiller.student_parameters())
    assert teacher_ids.isdisjoint(id(p) for p in params)
    assert not any(p.requires_grad for p in distiller.teacher.parameters())
    before = copy.deepcopy(distiller.teacher.state_dict())
    student_before = [p.detach().clone() for p in distiller.student.parameters()]
    optimiser = torch.optim.SGD(params, lr=0.1)
    _trained(_run(distiller, batch), batch).backward()
    optimiser.step()
    for key, value in distiller.teacher.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)  # BN stats too
    assert any(
        not torch.equal(p, q)
        for p, q in zip(distiller.student.parameters(), student_before, strict=True)
    )


def test_teacher_stays_in_eval_mode(tiny_model):
    distiller = _distiller(tiny_model).train()
    assert distiller.training and distiller.student.training
    assert not any(m.training for m in distiller.teacher.modules())
    distiller.eval().train(True)
    assert not distiller.teacher.training
    distiller.eval()
    assert not distiller.student.training


def test_state_dict_holds_neither_student_nor_teacher(tiny_model, batch):
    distiller = _distiller(tiny_model, "feature")
    assert all(m is not distiller.student for m in distiller.modules())
    state = distiller.state_dict()
    assert state and all(key.startswith("objective.") for key in state)  # the adapters
    teacher = copy.deepcopy(distiller.teacher.state_dict())
    for adapter in distiller.objective.parameters():
        adapter.data.add_(1.0)
    distiller.load_state_dict(state)  # strict: the teacher is not asked for
    for key, value in distiller.objective.state_dict().items():
        torch.testing.assert_close(value, state[f"objective.{key}"], rtol=0, atol=0)
    for key, value in distiller.teacher.state_dict().items():
        torch.testing.assert_close(value, teacher[key], rtol=0, atol=0)


@pytest.mark.parametrize("teacher_bn", ["running", "batch"])
@pytest.mark.parametrize("method", METHOD_NAMES)
def test_identical_student_has_zero_distillation_terms(tiny_model, batch, method, teacher_bn):
    torch.manual_seed(0)
    teacher = tiny_model(width=4)
    config = DistillationConfig(method=method, teacher_bn=teacher_bn)
    distiller = Distiller(copy.deepcopy(teacher), teacher, config)
    # BN normalises alike in both: running statistics for an eval-mode student, batch statistics
    # for a training student when the teacher uses its batch's statistics too.
    distiller.train(teacher_bn == "batch")
    same = dict(batch, degraded_t1=batch["clean_t1"], degraded_t2=batch["clean_t2"])
    out = _run(distiller, same)
    assert not any(k.startswith("cd") for k in out.terms)  # distillation terms only
    assert (method == "none") == (not out.terms)
    for name, value in out.terms.items():
        assert abs(value.item()) < 1e-6, name
    torch.testing.assert_close(out.loss, torch.zeros(()), rtol=0, atol=1e-6)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_gradients_reach_student(tiny_model, batch, method):
    distiller = _distiller(tiny_model, method).train()
    out = _run(distiller, batch)
    params = list(distiller.student_parameters())
    grads = torch.autograd.grad(_trained(out, batch), params, retain_graph=True)
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    if method != "none":
        kd = out.loss
        kd_grads = torch.autograd.grad(kd, list(distiller.student.parameters()), allow_unused=True)
        assert sum(g.abs().sum().item() for g in kd_grads if g is not None) > 0


def test_feature_adapters_are_trainable(tiny_model):
    distiller = _distiller(tiny_model, "feature")
    adapters = list(distiller.objective.parameters())
    assert adapters and {id(p) for p in adapters} <= {id(p) for p in distiller.student_parameters()}


def test_feature_channels_probed_without_attributes(tiny_model, batch):
    teacher, student = tiny_model(width=6, expose_channels=False), tiny_model(width=4)
    distiller = Distiller(student, teacher, DistillationConfig(method="feature"))
    assert distiller.objective.encoder_adapters["1"].out_channels == 12
    assert torch.isfinite(_run(distiller, batch).loss)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_hicd_terms_and_weighting(tiny_model, batch, reduction):
    options = dict(lambda_sfd=0.5, lambda_cfd=2.0, w_self=3.0, w_cross=0.25, w_global=1.5)
    out = _run(_distiller(tiny_model, reduction=reduction, **options), batch)
    terms = out.terms
    expected = {"sfd", "cfd"}
    for level in (0, 1):
        expected |= {f"sfd/{k}/l{level}" for k in ("self_t1", "self_t2", "cross", "global")}
        expected |= {f"cfd/{k}/l{level}" for k in ("self", "global")}
    assert set(terms) == expected
    weight = {"self_t1": 3.0, "self_t2": 3.0, "self": 3.0, "cross": 0.25, "global": 1.5}
    kind = {"self_t1": "self", "self_t2": "self", "self": "self", "cross": "cross"}
    for module, scale in (("sfd", 0.5), ("cfd", 2.0)):
        names = [k for k in terms if k.startswith(module + "/")]
        if reduction == "sum":
            parts = [weight[k.split("/")[1]] * terms[k] for k in names]
            torch.testing.assert_close(terms[module], scale * sum(parts))
        else:  # the weighted mean over kinds of each kind's mean over levels (and dates)
            groups: dict[str, list[torch.Tensor]] = {}
            for k in names:
                groups.setdefault(kind.get(k.split("/")[1], "global"), []).append(terms[k])
            w = {"self": 3.0, "cross": 0.25, "global": 1.5}
            mean = sum(w[g] * torch.stack(v).mean() for g, v in groups.items())
            torch.testing.assert_close(terms[module], scale * mean / sum(w[g] for g in groups))
        total = sum(out.weights[k] * terms[k] for k in names)
        torch.testing.assert_close(terms[module], total)
    torch.testing.assert_close(out.loss, terms["sfd"] + terms["cfd"])


def test_distillation_scale_multiplies_the_terms(tiny_model, batch):
    distiller = _distiller(tiny_model)
    full = _run(distiller, batch)
    half = _run(distiller, batch, scale=0.5)
    torch.testing.assert_close(half.loss, 0.5 * full.loss)
    cd = TaskLossConfig()(full.student.logits, batch["mask"])["cd"]
    torch.testing.assert_close(_trained(half, batch), cd + 0.5 * full.loss)


@pytest.mark.parametrize(
    ("options", "absent", "present"),
    [
        ({"use_sfd": False}, "sfd", "cfd/"),
        ({"use_cfd": False}, "cfd", "sfd/"),
        ({"use_self": False}, "self", "cross"),
        ({"use_cross": False}, "cross", "self"),
        ({"use_global": False}, "global", "self"),
        ({"sfd_levels": [1], "cfd_levels": [-1]}, "/l0", "/l1"),
    ],
)
def test_switches_remove_terms(tiny_model, batch, options, absent, present):
    out = _run(_distiller(tiny_model, **options), batch)
    assert not any(absent in k for k in out.terms)
    assert any(present in k for k in out.terms)
    torch.testing.assert_close(out.loss, sum(out.terms.get(m, 0.0) for m in ("sfd", "cfd")))


def test_logit_and_feature_weighting(tiny_model, batch):
    logit = _run(_distiller(tiny_model, "logit", lambda_kd=0.5, temperature=2.0), batch)
    assert set(logit.terms) == {"logit/kl", "logit"}
    torch.testing.assert_close(logit.loss, 0.5 * logit.terms["logit/kl"])
    feature = _run(_distiller(tiny_model, "feature", lambda_kd=0.5, cfd_levels=[0]), batch)
    parts = [v for k, v in feature.terms.items() if k.startswith("feature/")]
    assert len(parts) == 5  # 2 encoder levels × 2 dates + 1 change level
    torch.testing.assert_close(feature.terms["feature"], 0.5 * sum(parts))


def test_none_needs_no_teacher_and_dice_terms(tiny_model, batch):
    config = DistillationConfig(method="none")
    distiller = Distiller(tiny_model(), None, config)
    out = distiller(None, None, batch["degraded_t1"], batch["degraded_t2"])
    assert out.terms == {} and out.teacher is None and float(out.loss) == 0.0
    terms = TaskLossConfig(dice_weight=0.5)(out.student.logits, batch["mask"])
    assert set(terms) == {"cd", "cd/ce", "cd/dice"}
    total = _trained(out, batch, TaskLossConfig(dice_weight=0.5))
    torch.testing.assert_close(total, terms["cd/ce"] + 0.5 * terms["cd/dice"])


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"method": "kd"}, "distillation.method"),
        ({"lambda_sfd": -1.0}, "lambda_sfd"),
        ({"temperature": 0.0}, "temperature"),
    ],
)
def test_invalid_config(options, match):
    with pytest.raises(ConfigError, match=match):
        DistillationConfig(**options)


def test_missing_teacher_and_bad_levels(tiny_model, batch):
    with pytest.raises(ConfigError, match="needs a teacher"):
        Distiller(tiny_model(), None, DistillationConfig(method="hicd"))
    with pytest.raises(ConfigError, match="sfd_levels"):
        _run(_distiller(tiny_model, sfd_levels=[2]), batch)
    with pytest.raises(ConfigError, match="cfd_levels"):
        _distiller(tiny_model, "feature", cfd_levels=[5])


def test_batch_statistics_leave_running_statistics_untouched(tiny_model, batch):
    from hicd.distillation.batchnorm import batch_statistics

    model = tiny_model().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with batch_statistics(model):
        inside = model(batch["clean_t1"], batch["clean_t2"]).logits
    assert not model.training and all(
        m.track_running_stats for m in model.modules() if hasattr(m, "track_running_stats")
    )
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    model.train()  # batch statistics: the same output as training mode
    torch.testing.assert_close(inside, model(batch["clean_t1"], batch["clean_t2"]).logits)


def test_recalibration_averages_batch_statistics(tiny_model, batch):
    from hicd.distillation.batchnorm import recalibrate_batchnorm
    from hicd.errors import ConfigError

    model = tiny_model().eval()
    first = model.stages[0][1]
    pairs = [(batch["clean_t1"][i : i + 1], batch["clean_t2"][i : i + 1]) for i in range(2)]
    assert recalibrate_batchnorm(model, pairs) == 2 and not model.training
    x = torch.cat([batch["clean_t1"], batch["clean_t2"]])  # what stage 0 saw, image by image
    with torch.no_grad():
        conv = model.stages[0][0]
        means = [conv(x[[i, i + 2]]).mean(dim=(0, 2, 3)) for i in range(2)]
    torch.testing.assert_close(first.running_mean, torch.stack(means).mean(0))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ConfigError, match="no batch"):
        recalibrate_batchnorm(model, [])
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


@pytest.mark.parametrize("config", [DistillationConfig, TaskLossConfig])
def test_config_table_in_the_docs_matches_the_dataclass(config):
    import dataclasses
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "distillation.md").read_text()
    table = text[text.index(f"### `{config.__name__}`") :]
    table = table[table.index("| option |") :]
    documented: dict[str, str] = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("| `"):
            break
        names, default = line.split("|")[1:3]
        for name in re.findall(r"`(\w+)`", names):
            documented[name] = default.strip()

    def shown(value) -> str:
        return f"`{value}`" if isinstance(value, str) else str(value)

    expected = {f.name: shown(f.default) for f in dataclasses.fields(config)}
    assert documented == expected


def test_every_method_name_has_its_objective_and_no_import_circle() -> None:
    import ast
    from pathlib import Path

    from hicd.distillation import METHODS, config

    assert tuple(METHODS) == METHOD_NAMES
    tree = ast.parse(Path(config.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "hicd.distillation.methods" not in imported  # methods.py imports config.py
