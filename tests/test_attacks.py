"""Every attack of every lesson, both ways: it succeeds against the vulnerable variant it was
made for, and fails against the reference after the lesson that fixes it and against the
finished service. An attack that cannot succeed proves nothing about the layer that stops it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from lessons import attacks, catalog
from lessons.attacks import Attack, Variant


def attack_module(lesson: catalog.Lesson) -> ModuleType | None:
    try:
        return importlib.import_module(f"lessons.attacks.lesson{lesson.number:02d}")
    except ModuleNotFoundError:
        return None


def every_attack() -> list[pytest.param]:
    found = []
    for lesson in catalog.ready():
        module = attack_module(lesson)
        for attack in getattr(module, "ATTACKS", ()):
            if isinstance(attack, Attack):
                marks = [pytest.mark.slow] if attack.network else []
                found.append(pytest.param(attack, id=f"{lesson.number:02d}-{attack.id}",
                                          marks=marks))
    return found


ATTACKS = every_attack()


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_attack_succeeds_against_its_vulnerable_variant(attack: Attack, tmp_path) -> None:
    result = attacks.run(attack, folder=tmp_path)
    assert result.succeeded, str(result)


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_attack_fails_against_the_lesson_that_fixes_it(attack: Attack, tmp_path) -> None:
    result = attacks.run(attack, attacks.reference(attack.fixed_in), folder=tmp_path)
    assert not result.succeeded, str(result)


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_attack_fails_against_the_finished_service(attack: Attack, tmp_path) -> None:
    result = attacks.run(attack, Variant(catalog.LAST_READY), folder=tmp_path)
    assert not result.succeeded, str(result)


def test_attack_ids_are_unique_within_a_lesson() -> None:
    for lesson in catalog.ready():
        ids = [a.id for a in getattr(attack_module(lesson), "ATTACKS", ()) if isinstance(a, Attack)]
        assert len(ids) == len(set(ids)), lesson.notebook
