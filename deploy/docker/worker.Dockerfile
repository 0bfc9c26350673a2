# GPU worker agent. The base image brings CUDA; PyTorch's CUDA build comes from PyPI. Ubuntu 24.04's
# archive has Python 3.12 only (python3), which the package supports (requires-python >= 3.11);
# gpu-workers/tests/deploy checks the pair whenever either changes.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-pip && rm -rf /var/lib/apt/lists/*
WORKDIR /app
RUN python3 -m venv /venv
ENV PATH=/venv/bin:$PATH
ARG TORCH_VERSION=2.13.0
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}"
COPY gpu-workers /app/gpu-workers
RUN pip install --no-cache-dir /app/gpu-workers
ENV HOUNSFIELD_WORK_DIR=/var/lib/hounsfield/worker
CMD ["python", "-m", "hounsfield.worker"]
