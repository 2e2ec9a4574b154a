"""Turning a bag of labelled object views (Small NORB) into rotation sequences."""

from __future__ import annotations

import numpy as np


def group_views_by_pose(azimuth: np.ndarray, **group_labels: np.ndarray
                        ) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """Groups view indices by their labels and orders each group by azimuth.

    Every group is one object under fixed viewing conditions turning through a full circle,
    i.e. one rotation sequence. For Small NORB pass `category`, `instance`, `elevation` and
    `lighting` (instance numbers repeat across categories, so the category is part of the key).

    Args:
        azimuth: `(N,)` azimuth label of each view (any monotone encoding of the angle).
        **group_labels: `(N,)` label arrays; views sharing all of them form one group.

    Returns:
        `[(key, indices)]` sorted by key, where `key` is the tuple of group labels (in the
        keyword order) and `indices` are the group's view indices in increasing azimuth.

    Raises:
        ValueError: on mismatched lengths, an azimuth repeated within a group, or groups that
            do not all cover the same azimuths (an incomplete circle).

    Example:

        groups = group_views_by_pose(az, category=cat, instance=inst, elevation=el,
                                     lighting=light)
        sequences = [images[indices] for _, indices in groups]
    """
    azimuth = np.asarray(azimuth)
    if azimuth.ndim != 1:
        raise ValueError(f"azimuth: expected a 1-D label array, got shape {azimuth.shape}")
    names = list(group_labels)
    labels = [np.asarray(group_labels[n]) for n in names]
    for name, values in zip(names, labels):
        if values.shape != azimuth.shape:
            raise ValueError(f"{name}: expected shape {azimuth.shape} like azimuth, got "
                             f"{values.shape}")
    if len(azimuth) == 0:
        return []
    keys = np.stack(labels, axis=1) if labels else np.zeros((len(azimuth), 0), dtype=np.int64)
    unique_keys, group_of = np.unique(keys, axis=0, return_inverse=True)
    group_of = group_of.reshape(-1)
    # One stable sort by (group, azimuth) orders every group at once.
    order = np.lexsort((azimuth, group_of))
    bounds = np.flatnonzero(np.diff(group_of[order])) + 1
    groups, reference = [], None
    for key, indices in zip(unique_keys, np.split(order, bounds)):
        angles = azimuth[indices]
        key = tuple(int(v) for v in key)
        if np.any(angles[1:] == angles[:-1]):
            raise ValueError(f"group {dict(zip(names, key))}: azimuth "
                             f"{angles[1:][angles[1:] == angles[:-1]][0]} appears more than once")
        if reference is None:
            reference = angles
        elif not np.array_equal(angles, reference):
            raise ValueError(f"group {dict(zip(names, key))}: azimuths {angles.tolist()} differ "
                             f"from the first group's {reference.tolist()} (incomplete circle)")
        groups.append((key, indices))
    return groups
