import numpy as np
import pytest

from dynamic_vae.evaluation.digit_classifier import (classify_digits, load_digit_classifier,
                                                     transition_accuracy)


def test_transition_accuracy_known_answers():
    assert transition_accuracy(np.array([1, 2, 3, 4, 1, 2]), "1234") == 1.0
    assert transition_accuracy(np.array([1, 1, 1]), "1234") == 0.0
    # 4 -> 1 wraps; 2 -> 4 skips; 7 is not in the cycle.
    np.testing.assert_allclose(transition_accuracy(np.array([3, 4, 1, 2, 4, 7, 8]), "1234"),
                               3 / 6)
    with pytest.raises(ValueError, match="digits"):
        transition_accuracy(np.array([1]), "1234")


@pytest.mark.slow
def test_classifier_reads_real_digits(tmp_path, counting_frames):
    classifier, heldout_accuracy = load_digit_classifier(tmp_path)
    assert heldout_accuracy >= 0.95
    assert (tmp_path / "digit_classifier.keras").is_file()
    frames, digits = counting_frames
    predicted, confidence = classify_digits(classifier, frames)
    assert np.mean(predicted == digits) >= 0.95
    assert confidence.shape == (len(frames),)
    # The cached copy is reused and gives the same answers.
    again, accuracy_again = load_digit_classifier(tmp_path)
    assert accuracy_again == heldout_accuracy
    np.testing.assert_array_equal(classify_digits(again, frames)[0], predicted)
