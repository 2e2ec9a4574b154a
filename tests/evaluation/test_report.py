"""The evaluation report and the printed summary, from hand-made metrics (no model)."""

from dynamic_vae.cli.evaluation import summary_text
from dynamic_vae.evaluation.report import alive_applies, alive_text, format_report


def _stability(std_ratio: float) -> dict:
    alive = abs(std_ratio - 1.0) <= 0.2
    return {"std_ratio": std_ratio, "early_std_ratio": std_ratio, "drift_ratio": 1.0,
            "mean_ratio": 1.0, "temporal_std_ratio": 1.0, "alive": alive,
            "alive_fraction": 1.0 if alive else 0.0, "per_seed_std_ratio": [std_ratio],
            "tolerance": 0.2, "late_frames": 10}


def _metrics(kind: str, std_ratio: float) -> dict:
    """The fields `format_report` and `summary_text` read, for one model."""
    metrics = {
        "run": "runs/x", "kind": kind, "training_frames": 100, "frame_shape": [8, 8, 1],
        "seeds": [0], "horizon": 40, "baseline": "none",
        "synthesis_start": "a stored start state picked by the seed",
        "prediction": {"heldout": "given", "windows": 5,
                       "dynamic_vae": {"1": {"mse": 0.01, "skill": 0.5,
                                             "persistence_mse": 0.02}}},
        "stability": {"dynamic_vae": _stability(std_ratio)},
        "novelty": {"dynamic_vae": {"synthesised_median": 0.1, "training_median": 0.1,
                                    "ratio": 1.0, "near_copy_fraction": 0.0}},
        "spectrum": {"dynamic_vae": {"periods": [4.0], "moduli": [1.0],
                                     "spectral_radius": 1.0, "spectral_norm": 1.0,
                                     "stationarity_residual": 0.0}},
        "wall_time_seconds": 1.0,
    }
    if kind == "counting":
        digit = {"transition_accuracy": 1.0, "transition_accuracy_std": 0.0,
                 "legible_fraction": 0.9, "mean_confidence": 0.95, "in_cycle_fraction": 1.0,
                 "legible_threshold": 0.9}
        metrics["digits"] = {"cycle": "1234", "classifier_heldout_accuracy": 0.972,
                             "dynamic_vae": digit, "ground_truth": digit}
    return metrics


def test_alive_is_not_judged_on_counting_runs():
    """A counting run that counts perfectly with faint digits (std ratio 0.69) is not called
    dead: its dynamics are judged by transition accuracy."""
    counting = _metrics("counting", 0.69)
    assert not alive_applies(counting)
    assert alive_text(counting, counting["stability"]["dynamic_vae"]) == "not judged"
    summary = summary_text(counting)
    assert ("alive: not judged; counting runs are judged by transition accuracy)"
            in summary)
    assert "alive: no)" not in summary
    report = format_report(counting)
    assert "| not judged | - |" in report
    assert "Alive is not judged on a counting run" in report


def test_alive_is_judged_on_other_runs():
    for std_ratio, verdict in ((0.69, "no"), (0.95, "yes")):
        video = _metrics("video", std_ratio)
        assert alive_applies(video)
        assert alive_text(video, video["stability"]["dynamic_vae"]) == verdict
        assert f"alive: {verdict})" in summary_text(video)
        report = format_report(video)
        assert f"| {verdict} | {1.0 if verdict == 'yes' else 0.0:.2f} |" in report
        assert "Alive is not judged" not in report


def test_report_names_where_synthesis_starts():
    report = format_report(_metrics("counting", 0.69))
    assert "starting from a stored start state picked by the seed" in report
    older = _metrics("video", 1.0)
    del older["synthesis_start"]
    assert "starting from x_0 ~ N(0, I)" in format_report(older)
