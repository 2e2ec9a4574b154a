"""Measuring trained runs: prediction error, stability, novelty, variety, spectrum, digit
order.

`evaluate_run(run_dir)` computes them all and writes RUN/evaluation/ (report.md,
metrics.json, figures); the metric functions are pure and usable on their own.
`compare_videos(real, videos)` scores synthesised videos from any method against a real clip;
`estimate_period(frames)` reads the period of a clip of a cyclic process from its frames.
"""

from dynamic_vae.evaluation.cycle_spectrum import cycle_eigenvalue_match
from dynamic_vae.evaluation.digit_order import digit_order_metrics
from dynamic_vae.evaluation.diversity import (cycle_distance, diversity_metrics,
                                              frechet_distance)
from dynamic_vae.evaluation.novelty import nearest_neighbour_distances, novelty_metrics
from dynamic_vae.evaluation.periodicity import estimate_period, lag_differences
from dynamic_vae.evaluation.prediction import k_step_prediction_errors
from dynamic_vae.evaluation.run_evaluation import evaluate_run
from dynamic_vae.evaluation.stability import per_frame_statistics, stability_metrics
from dynamic_vae.evaluation.video_comparison import compare_videos

__all__ = ["compare_videos", "cycle_distance", "cycle_eigenvalue_match",
           "digit_order_metrics", "diversity_metrics", "estimate_period", "evaluate_run",
           "frechet_distance", "k_step_prediction_errors", "lag_differences",
           "nearest_neighbour_distances", "novelty_metrics", "per_frame_statistics",
           "stability_metrics"]
