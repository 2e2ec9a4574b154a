"""An embedded server speaking TF Serving's gRPC and REST APIs, and a gRPC client.

Needs the `serving` extra (`pip install dynamic-vae[serving]`: tensorflow-serving-api, grpcio).
"""

from dynamic_vae.serving.model_server import ModelServer
from dynamic_vae.serving.model_store import ModelStore
from dynamic_vae.serving.prediction_client import PredictionClient
from dynamic_vae.serving.servable import Servable
from dynamic_vae.serving.serving_error import ServingError

__all__ = ["ModelServer", "ModelStore", "PredictionClient", "Servable", "ServingError"]
