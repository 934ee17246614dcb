"""Distiller: frozen teacher, trainable student, terms and weights of every method."""

from __future__ import annotations

import copy

import pytest
import torch

from hicd.distillation import METHOD_NAMES, METHODS, DistillationConfig, Distiller
from hicd.errors import ConfigError

DISTILLING = [m for m in METHOD_NAMES if m != "none"]


def _distiller(tiny_model, method: str = "hicd", **options) -> Distiller:
    torch.manual_seed(0)
    teacher, student = tiny_model(width=6), tiny_model(width=4)
    return Distiller(student, teacher, DistillationConfig(method=method, **options))


def _run(distiller: Distiller, batch: dict):
    return distiller(
        batch["clean_t1"],
        batch["clean_t2"],
        batch["degraded_t1"],
        batch["degraded_t2"],
        batch["mask"],
    )


def test_methods_mapping_covers_config_names():
    assert set(METHODS) == set(METHOD_NAMES)


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
    _run(distiller, batch).loss.backward()
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


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_identical_student_has_zero_distillation_terms(tiny_model, batch, method):
    torch.manual_seed(0)
    teacher = tiny_model(width=4)
    distiller = Distiller(copy.deepcopy(teacher), teacher, DistillationConfig(method=method))
    distiller.eval()  # BN in the same mode for both
    same = dict(batch, degraded_t1=batch["clean_t1"], degraded_t2=batch["clean_t2"])
    out = _run(distiller, same)
    kd_terms = {k: v for k, v in out.terms.items() if not k.startswith("cd")}
    assert (method == "none") == (not kd_terms)
    for name, value in kd_terms.items():
        assert abs(value.item()) < 1e-6, name
    torch.testing.assert_close(out.loss, out.terms["cd"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_gradients_reach_student(tiny_model, batch, method):
    distiller = _distiller(tiny_model, method).train()
    out = _run(distiller, batch)
    params = list(distiller.student_parameters())
    grads = torch.autograd.grad(out.loss, params, retain_graph=True)
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    if method != "none":
        kd = out.loss - out.terms["cd"]
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


def test_default_hicd_terms_and_weighting(tiny_model, batch):
    options = dict(lambda_sfd=0.5, lambda_cfd=2.0, w_self=3.0, w_cross=0.25, w_global=1.5)
    terms = _run(_distiller(tiny_model, **options), batch).terms
    expected = {"cd", "sfd", "cfd"}
    for level in (0, 1):
        expected |= {f"sfd/{k}/l{level}" for k in ("self_t1", "self_t2", "cross", "global")}
        expected |= {f"cfd/{k}/l{level}" for k in ("self", "global")}
    assert set(terms) == expected
    weight = {"self_t1": 3.0, "self_t2": 3.0, "self": 3.0, "cross": 0.25, "global": 1.5}
    for module, scale in (("sfd", 0.5), ("cfd", 2.0)):
        parts = [
            weight[k.split("/")[1]] * v for k, v in terms.items() if k.startswith(module + "/")
        ]
        torch.testing.assert_close(terms[module], scale * sum(parts))


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
    torch.testing.assert_close(
        out.loss, out.terms["cd"] + sum(out.terms.get(m, 0.0) for m in ("sfd", "cfd"))
    )


def test_logit_and_feature_weighting(tiny_model, batch):
    logit = _run(_distiller(tiny_model, "logit", lambda_kd=0.5, temperature=2.0), batch)
    assert set(logit.terms) == {"cd", "logit/kl", "logit"}
    torch.testing.assert_close(logit.loss, logit.terms["cd"] + 0.5 * logit.terms["logit/kl"])
    feature = _run(_distiller(tiny_model, "feature", lambda_kd=0.5, cfd_levels=[0]), batch)
    parts = [v for k, v in feature.terms.items() if k.startswith("feature/")]
    assert len(parts) == 5  # 2 encoder levels × 2 dates + 1 change level
    torch.testing.assert_close(feature.terms["feature"], 0.5 * sum(parts))


def test_none_needs_no_teacher_and_dice_terms(tiny_model, batch):
    distiller = Distiller(tiny_model(), None, DistillationConfig(method="none", dice_weight=0.5))
    out = distiller(None, None, batch["degraded_t1"], batch["degraded_t2"], batch["mask"])
    assert set(out.terms) == {"cd", "cd/ce", "cd/dice"} and out.teacher is None
    torch.testing.assert_close(out.loss, out.terms["cd/ce"] + 0.5 * out.terms["cd/dice"])


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
