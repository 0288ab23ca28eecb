"""vq_zoo: VQ-VAE, VQ-VAE-2 and gated PixelCNN priors for Keras 3 / TensorFlow."""

import pathlib

from setuptools import find_packages
from setuptools import setup

HERE = pathlib.Path(__file__).parent
version = {}
exec((HERE / "vq_zoo" / "version.py").read_text(), version)

setup(
    name="vq_zoo",
    version=version["__version__"],
    description=(
        "Keras 3 / TensorFlow model zoo for neural discrete representation "
        "learning: VQ-VAE, VQ-VAE-2, gated PixelCNN priors."
    ),
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    license_files=["LICENSE"],
    python_requires=">=3.10",
    packages=find_packages(include=["vq_zoo", "vq_zoo.*"])
    + ["vq_zoo.pretrained", "vq_zoo.recipes"]
    + [f"vq_zoo.recipes.{p}" for p in find_packages(where="recipes")],
    # The checkout's top-level pretrained/ (presets, index.json) ships in the
    # wheel as vq_zoo/pretrained/, where vq_zoo.presets finds it; its
    # recipes/ as vq_zoo/recipes/ (no top-level `recipes` package to collide).
    package_dir={"vq_zoo.pretrained": "pretrained", "vq_zoo.recipes": "recipes"},
    package_data={
        "vq_zoo.pretrained": ["*.json", "*/*.json", "*/*.h5", "*/*.md", "*/*.png",
                              "*/*.wav"]
    },
    # Data files are exactly `package_data`: with include_package_data the
    # preset folders (data, not Python) would each warn "Package
    # 'vq_zoo.pretrained.<name>' is absent from the `packages` configuration".
    include_package_data=False,
    install_requires=[
        "tensorflow==2.21.*",
        # Private Keras hooks we rely on (tests/training/keras_hooks_test.py):
        # a new minor release must pass that test before this range grows.
        "keras>=3.15,<3.16",
        "tensorflow-probability>=0.25",
        "tf-keras",  # tensorflow-probability 0.25 imports only with it
        "tensorflow-datasets",
        "importlib_resources",  # needed by tensorflow-datasets, undeclared there
        "tensorboard",
        "numpy",
        # The bundled photos of the embedded main job and the offline recipes.
        "scikit-learn",
        "scikit-image",
        # Image headers and formats (vq_zoo.data.image_folder, `vq-zoo encode`).
        "pillow",
    ],
    entry_points={"console_scripts": ["vq-zoo=vq_zoo.cli:main"]},
    extras_require={
        "dev": [
            "pytest",
            "pytest-xdist",
            "dm-sonnet==2.0.2",  # the reference in bench/
        ],
        # memory-maze frames for the dmlab and video recipes (MuJoCo 4
        # crashes dm_control).
        "memory_maze": ["memory-maze", "gym==0.26.2", "mujoco==3.17.0"],
        # Own recordings (`vq-zoo train audio`, vq_zoo.data.audio_folder):
        # libsndfile decoding (WAV, FLAC, OGG) and a polyphase resampler.
        "audio": ["soundfile", "scipy"],
        # Speech: Griffin-Lim and the WORLD vocoder for the spectrogram
        # decoder (the shipped speech preset voices with WORLD; pyworld
        # builds from source, and its __init__ imports pkg_resources, which
        # setuptools 81 removed); the instruments' recogniser (word error
        # rates, alignments).
        "speech": ["librosa>=0.10", "pyworld>=0.3.4", "setuptools<81"],
        "speech-eval": ["librosa>=0.10", "pocketsphinx>=5.0"],
    },
)
