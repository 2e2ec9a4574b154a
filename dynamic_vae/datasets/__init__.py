"""TFDS builders of the project's data sets; importing this package registers them.

`counting_mnist` (configs per digit cycle), `dynamic_textures` (gray48, rgb64) and
`object_rotation` (coil20, smallnorb48). All build offline: user data comes from the manual
directory (or, for smallnorb48, from TFDS 'smallnorb' already prepared in the data_dir).
"""

from dynamic_vae.data.tfds_offline import disable_gcs
from dynamic_vae.datasets.counting_mnist import CountingMnist, CountingMnistConfig
from dynamic_vae.datasets.dynamic_textures import DynamicTextures, DynamicTexturesConfig
from dynamic_vae.datasets.object_rotation import ObjectRotation, ObjectRotationConfig
from dynamic_vae.datasets.view_groups import group_views_by_pose

disable_gcs()

BUILDER_NAMES = ("counting_mnist", "dynamic_textures", "object_rotation")

__all__ = ["BUILDER_NAMES", "CountingMnist", "CountingMnistConfig", "DynamicTextures",
           "DynamicTexturesConfig", "ObjectRotation", "ObjectRotationConfig",
           "group_views_by_pose"]
