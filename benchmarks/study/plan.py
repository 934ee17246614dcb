"""Carrying out the plan: every run of ``configs.PLAN`` that the records do not hold yet."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from . import records
from .configs import BUDGETS, CHOSEN, PLAN, REGIMES, Budget, Entry, Regime, label_hash
from .folds import Fold, build, fold_names
from .runs import checkpoint_id, train_student, train_teacher
from .statistics import choose_variant

TEACHER_SEED = 0
"""One teacher per fold serves every student seed of that fold."""


@dataclasses.dataclass
class Study:
    """The state of one run of the plan: records so far, the fold teachers on this machine."""

    work: Path
    results: Path
    budget_name: str = "cpu"
    deadline: float | None = None
    log: Callable[[str], None] = print
    budget: Budget = dataclasses.field(init=False)
    regimes: dict[str, Regime] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.budget = BUDGETS[self.budget_name]
        self.regimes = REGIMES[self.budget_name]
        self.records = self.of_budget(records.load(self.results), self.budget_name)
        records.commit()  # cached now: records name the code this process runs
        self.teachers: dict[tuple[str, str], tuple[dict, Path]] = {}
        self.started = time.perf_counter()
        self.trained = 0

    @staticmethod
    def of_budget(runs: list[dict], budget_name: str) -> list[dict]:
        return [r for r in runs if r.get("budget_name") == budget_name]

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def _keep(self, record: dict) -> dict:
        path = records.save(self.results, record)
        self.records.append(record)
        self.trained += 1
        seconds = record["seconds"] + record["score_seconds"]
        self.log(
            f"{time.perf_counter() - self.started:7.0f} s  wrote {path.name} ({seconds:.0f} s)"
        )
        return record

    def teacher(self, root: Path, fold: Fold, settings: list[str]) -> tuple[dict, Path]:
        """The fold's teacher on this machine: a checkpoint in the work folder whose record is
        among the records, else a new one (trained, recorded)."""
        key = (fold.dataset, fold.name)
        if key in self.teachers:
            return self.teachers[key]
        checkpoint = (
            self.work / "runs" / fold.dataset / fold.name / self.budget_name
            / f"teacher-s{TEACHER_SEED}" / "best.ckpt"
        )  # fmt: skip
        if checkpoint.is_file():
            known = checkpoint_id(checkpoint)
            for record in self.records:
                if (
                    record["role"] == "teacher"
                    and record["fold"] == fold.name
                    and (record["dataset"] == fold.dataset and record["id"] == known)
                ):
                    self.teachers[key] = (record, checkpoint)
                    return self.teachers[key]
        record, checkpoint = train_teacher(
            self.work, root, fold, TEACHER_SEED, self.budget, self.budget_name, settings,
        )  # fmt: skip
        self.teachers[key] = (self._keep(record), checkpoint)
        return self.teachers[key]

    def _students(self, fold: Fold, seed: int, recipe: str, setting: str, label: str) -> list:
        key = label_hash(label)
        return [
            r for r in self.records
            if r["role"] == "student" and r["dataset"] == fold.dataset and r["fold"] == fold.name
            and r["seed"] == seed and r["regime"] == recipe and r["setting"] == setting
            and r["config_hash"] == key
        ]  # fmt: skip

    def done(self, fold: Fold, seed: int, recipe: str, setting: str, label: str) -> bool:
        """A run is done when a record of it exists against a teacher that its ``none`` run of
        the same fold, seed and recipe also has (so it can be paired)."""
        mine = {r["teacher"] for r in self._students(fold, seed, recipe, setting, label)}
        if label == "none":
            return bool(mine)
        return bool(
            mine & {r["teacher"] for r in self._students(fold, seed, recipe, setting, "none")}
        )

    def labels(self, entry: Entry, recipe: str, quiet: bool = False) -> list[str]:
        """The entry's labels for ``recipe``, with the variant chosen on LEVIR-CD multi ×4
        resolved, or left out (with a note) until the candidates' runs are complete."""
        labels = []
        for label in entry.labels:
            if label != CHOSEN:
                labels.append(label)
                continue
            choice, _ = choose_variant(self.records, "levir", "multi-x4", fold_names("levir"))
            if choice is None and not quiet:
                self.log(f"{entry.phase}: no variant chosen yet (candidates incomplete), skipped")
            elif choice is not None and choice[0] == recipe and choice[1] not in labels:
                labels.append(choice[1])
        return labels

    def run_entry(self, entry: Entry, settings: list[str]) -> None:
        root = self.work / "data" / entry.dataset
        folds = [
            f
            for f in build(entry.dataset, root)
            if entry.folds in (None, ()) or f.name in entry.folds
        ]
        for seed in entry.seeds:
            for fold in folds:
                for recipe in entry.recipes:
                    for label in self.labels(entry, recipe):
                        if self.out_of_time():
                            return
                        if self.done(fold, seed, recipe, entry.setting, label):
                            continue
                        teacher, checkpoint = self.teacher(root, fold, settings)
                        if label != "none" and not self._paired_now(
                            fold, seed, recipe, entry, teacher
                        ):
                            self._student(
                                root, fold, teacher, checkpoint, recipe, entry.setting, "none", seed
                            )
                        self._student(
                            root, fold, teacher, checkpoint, recipe, entry.setting, label, seed
                        )

    def _paired_now(self, fold: Fold, seed: int, recipe: str, entry: Entry, teacher: dict) -> bool:
        nones = self._students(fold, seed, recipe, entry.setting, "none")
        return any(r["teacher"] == teacher["id"] for r in nones)

    def _student(self, root, fold, teacher, checkpoint, recipe, setting, label, seed) -> None:
        if self.out_of_time():
            return
        self._keep(
            train_student(
                self.work, root, fold, teacher, checkpoint, (recipe, self.regimes[recipe]),
                setting, label, seed, self.budget, self.budget_name,
            )
        )  # fmt: skip


def settings_of(dataset: str, plan: tuple[Entry, ...] = PLAN) -> list[str]:
    """Every setting the plan trains students on for ``dataset`` (teachers are scored on all)."""
    return list(dict.fromkeys(e.setting for e in plan if e.dataset == dataset))


def run_plan(study: Study, plan: tuple[Entry, ...] = PLAN) -> None:
    for entry in plan:
        if study.out_of_time():
            study.log("time limit reached: the plan stops here (records so far are kept)")
            return
        study.log(f"phase {entry.phase}: {entry.dataset} {entry.setting} {', '.join(entry.labels)}")
        study.run_entry(entry, settings_of(entry.dataset, plan))


def progress(runs: list[dict], budget_name: str = "cpu", plan: tuple[Entry, ...] = PLAN) -> list:
    """(phase, runs done, runs planned) of every entry of ``plan``, from the records alone (the
    chosen variant counts once it is chosen)."""
    study = Study.__new__(Study)
    study.records = Study.of_budget(runs, budget_name)
    rows = []
    for entry in plan:
        done = total = 0
        for seed in entry.seeds:
            for name in entry.folds or fold_names(entry.dataset):
                fold = Fold(entry.dataset, name, (), (), ())
                for recipe in entry.recipes:
                    for label in study.labels(entry, recipe, quiet=True):
                        total += 1
                        done += study.done(fold, seed, recipe, entry.setting, label)
        rows.append((entry.phase, done, total))
    return rows
