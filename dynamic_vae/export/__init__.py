"""Export of trained models as TF Serving SavedModels (`saved_models/NAME/<version>/`)."""

from dynamic_vae.export.exporter import DEFAULT_MAX_FRAMES, export_model, export_run
from dynamic_vae.export.sequence_module import SequenceModule
from dynamic_vae.export.signature_builder import (DEFAULT_SIGNATURE, SIGNATURE_BUILDERS,
                                                  SignatureBuilder, register_signature)
from dynamic_vae.export.serving_config import (SERVING_CONFIG_FILE, served_model_names,
                                               serving_config_text, write_serving_config)
from dynamic_vae.export.versioning import existing_versions, next_version, write_version

__all__ = ["DEFAULT_MAX_FRAMES", "DEFAULT_SIGNATURE", "SERVING_CONFIG_FILE", "SIGNATURE_BUILDERS",
           "SequenceModule", "SignatureBuilder", "existing_versions", "export_model",
           "export_run", "next_version", "register_signature", "served_model_names",
           "serving_config_text", "write_serving_config", "write_version"]
