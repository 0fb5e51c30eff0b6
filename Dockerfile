# Custom Apache Beam SDK worker image for ocrbeam on GPU workers
# (Dataflow: --sdk_container_image; Flink portable runner: --environment_type=DOCKER
#  --environment_config=IMAGE).
#
#   docker build -t REGION-docker.pkg.dev/PROJECT/ocrbeam/worker:0.3.0 .
#   docker build --build-arg ENGINE=cpu -t .../worker-cpu:0.3.0 .
#   docker build --build-arg EXTRAS=vl -t .../worker-vl:0.3.0 .   (route: vl)
#
# ENGINE=gpu (default) installs paddlepaddle-gpu for the `paddle` backend
# (configs/gpu-ppocrv5.yaml) and onnxruntime-gpu for onnxruntime on CUDA;
# ENGINE=cpu keeps onnxruntime on CPU plus paddlepaddle 3.2.2.
# The PP-OCRv5 weights in Paddle format are copied to /opt/ocrbeam/models,
# where configs/gpu-ppocrv5.yaml expects them; the ONNX model folders ship
# inside the ocrbeam package: workers never download weights.

ARG PYTHON_VERSION=3.11
ARG BEAM_VERSION=2.77.0

# The Beam SDK container supplies the worker boot entrypoint (/opt/apache/beam).
FROM apache/beam_python${PYTHON_VERSION}_sdk:${BEAM_VERSION} AS beam_sdk

FROM python:${PYTHON_VERSION}-slim-bookworm
ARG ENGINE=gpu
# Extra ocrbeam extras, e.g. --build-arg EXTRAS=vl for PaddleOCR-VL (route: vl)
# with its model directories mounted or baked in by a derived image.
ARG EXTRAS=
# Paddle's own wheel index for CUDA 12.6 builds of paddlepaddle-gpu.
ARG PADDLE_GPU_INDEX=https://www.paddlepaddle.org.cn/packages/stable/cu126/
ARG PADDLE_GPU_VERSION=3.2.2

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK=True \
    OCRBEAM_CACHE_DIR=/opt/ocrbeam/cache

# OpenCV (pulled in by paddlex) needs these shared libraries at import time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 libgomp1 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/ocrbeam/src
COPY pyproject.toml setup.py README.md ./
COPY ocrbeam ./ocrbeam
COPY transforms ./transforms
COPY pipelines ./pipelines
COPY configs /opt/ocrbeam/configs

# The project with its pinned Beam, PaddleOCR and bundled weights, then the
# engine for this image's device.
RUN pip install ".${EXTRAS:+[$EXTRAS]}" \
 && if [ "$ENGINE" = "gpu" ]; then \
      pip uninstall -y onnxruntime \
      && pip install "onnxruntime-gpu>=1.20,<2" \
      && pip install "paddlepaddle-gpu==${PADDLE_GPU_VERSION}" -i "${PADDLE_GPU_INDEX}"; \
    else \
      pip install "paddlepaddle==3.2.2"; \
    fi

# Copy the Paddle-format weights where configs/gpu-ppocrv5.yaml points, and
# assemble the text-line classifier's folder in the cache now, so the first
# page on a worker pays no setup.
RUN python - <<'PY'
import shutil
from pathlib import Path
from ocrbeam.models.bundled import (
    bundled_model_dirs, bundled_textline_orientation_dir, paddle_model_dir)
target = Path("/opt/ocrbeam/models")
for name in ("PP-OCRv5_mobile_det", "PP-OCRv5_mobile_rec"):
    shutil.copytree(paddle_model_dir(name), target / name, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".cache", ".gitattributes", "README.md"))
print(bundled_model_dirs("onnxruntime"), bundled_textline_orientation_dir())
PY

# Beam's worker boot program: Dataflow and Flink start the container with it.
COPY --from=beam_sdk /opt/apache/beam /opt/apache/beam
WORKDIR /opt/ocrbeam
ENTRYPOINT ["/opt/apache/beam/boot"]
