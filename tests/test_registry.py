"""The stage registry: each stage declared by its own package, maps a stage of its own, typed
results between stages, and the flow giving what the one-call functions give."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from segmentum.data.project import ProjectConfig
from segmentum.flow import Results, StageContext
from segmentum.maps import MapInputs, MapsResult
from segmentum.profiles import ProfilesResult, run_profiles
from segmentum.registry import STAGES
from segmentum.segments import SegmentsResult


def test_stages_in_flow_order_each_declared_by_its_own_package() -> None:
    assert [s.name for s in STAGES] == [
        "value",
        "segments",
        "profiles",
        "maps",
        "valuation",
        "activation",
    ]
    for stage in STAGES:
        assert stage.run.__module__ == f"segmentum.{stage.name}.stage", stage.name
        assert stage.settings is not None
        assert stage.name in ProjectConfig.model_fields  # its settings table exists
    order = [s.name for s in STAGES]
    for stage in STAGES:
        for needed in stage.needs:
            assert order.index(needed) < order.index(stage.name)


def test_results_are_looked_up_by_type() -> None:
    results = Results()
    results.add("segments", "a segments result")
    assert results.get(SegmentsResult) is None and SegmentsResult not in results
    with pytest.raises(LookupError, match=r"no SegmentsResult.*stages run: segments"):
        results[SegmentsResult]
    results.add("other", 3, 4.5)
    assert results[float] == 4.5 and results.get(int) == 3
    ctx = StageContext(config=None, data=None, seed=0, results=results)  # type: ignore[arg-type]
    assert ctx.result(float) == 4.5 and ctx.optional(MapInputs) is None


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    from segmentum.demo.project import write_demo_project
    from segmentum.project import Project

    folder = tmp_path_factory.mktemp("registry-demo")
    project_file = write_demo_project(folder, n_customers=2_000, n_respondents=900)
    text = project_file.read_text(encoding="utf-8")
    assert "n_boot = 50" in text
    # quick: fewer resamples, and no collection plan (about 150 projection refits; nothing
    # here reads it)
    assert "[activation]\n" in text
    text = text.replace("n_boot = 50", "n_boot = 10")
    text = text.replace("[activation]\n", "[activation]\ncollection_plan = false\n", 1)
    project_file.write_text(text, encoding="utf-8")
    return folder, Project.load(project_file).run()


def test_maps_is_its_own_stage_after_profiles(demo_run: tuple[Path, object]) -> None:
    _, result = demo_run
    assert list(result.outcomes) == [
        "value",
        "segments",
        "profiles",
        "maps",
        "valuation",
        "activation",
    ]  # type: ignore[attr-defined]
    assert isinstance(result.maps, MapsResult)  # type: ignore[attr-defined]
    assert isinstance(result.profiles, ProfilesResult) and result.profiles.maps is None  # type: ignore[attr-defined]
    manifest = result.manifest  # type: ignore[attr-defined]
    assert manifest["stages"]["maps"]["status"] == "ran" and "maps" in manifest["timings"]
    keys = [s.key for s in result.sections]  # type: ignore[attr-defined]
    assert keys == ["overview", "value", "segments", "profiles", "maps", "valuation", "activation"]
    summary = json.loads((result.run_dir / "segments.json").read_text())  # type: ignore[attr-defined]
    assert {"segments", "white_space", "exclusivity", "segmentation", "value"} <= set(summary)
    assert (result.run_dir / "map.svg").is_file()  # type: ignore[attr-defined]


def test_the_flow_gives_what_run_profiles_gives(demo_run: tuple[Path, object]) -> None:
    """Profiles then maps as two stages equal the one-call run_profiles on the same inputs."""
    folder, result = demo_run
    from segmentum.profiles.stage import ADDITIVE_VALUE
    from segmentum.project import Project
    from segmentum.value.stage import per_customer_columns

    src = Project.load(folder / "segmentum.toml").config.sources
    survey_src = src.survey
    assert survey_src is not None and survey_src.customer_id and src.competitor_ratings
    survey = result.data.frame("survey")  # type: ignore[attr-defined]
    ratings = result.data.frame("competitor_ratings")  # type: ignore[attr-defined]
    per_customer = per_customer_columns(result.value)  # type: ignore[attr-defined]
    value = per_customer[["customer_id", *[c for c in ADDITIVE_VALUE if c in per_customer]]]
    one_call = run_profiles(
        survey,
        result.segments.assignments[[survey_src.id_column, "segment"]],  # type: ignore[attr-defined]
        id_column=survey_src.id_column,
        basis=list(survey_src.basis),
        descriptors=list(survey_src.descriptors),
        behaviours=list(survey_src.behaviours),
        weights=survey_src.weight,
        text=survey_src.text,
        competitor_ratings=ratings.rename(
            columns={
                src.competitor_ratings.respondent_id: "respondent_id",
                src.competitor_ratings.brand: "brand",
                src.competitor_ratings.need: "need",
                src.competitor_ratings.rating: "rating",
            }
        ),
        value=value.rename(columns={"customer_id": survey_src.customer_id}),
        random_state=0,
    )
    flow = json.loads((result.run_dir / "segments.json").read_text())  # type: ignore[attr-defined]
    expected = json.loads(json.dumps(one_call.segments_json()))
    assert flow["white_space"] == expected["white_space"]
    # the valuation stage adds `valuation` and `priority` to each profiles entry (issue 12)
    added = ("valuation", "priority")
    kept = [{k: v for k, v in e.items() if k not in added} for e in flow["segments"]]
    assert kept == expected["segments"]
    assert all(set(added) <= set(e) for e in flow["segments"])
    assert flow["exclusivity"] == expected["exclusivity"]
    pd.testing.assert_frame_equal(
        result.maps.map.segments,  # type: ignore[attr-defined]
        one_call.map.segments,  # type: ignore[union-attr]
    )
