# syntax=docker/dockerfile:1
# The sealer controller image (also carries the `sealer` CLI). Build from the repository root:
#   docker build -t REGISTRY/sealer:TAG .
# deploy/deployment.yaml refers to the placeholder ghcr.io/example/sealer:0.1.0; point it at your image.

# --- build: wheels of this project and of exactly the dependencies requirements/base.txt pins (hashes checked) --
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY requirements/base.txt requirements/build.txt ./requirements/
# The build backend (setuptools) comes from the lock too: no build isolation, nothing unpinned is fetched.
RUN pip install --require-hashes -r requirements/build.txt \
    && pip wheel --require-hashes --wheel-dir /wheels -r requirements/base.txt
COPY pyproject.toml README.md ./
# The product's two packages only: not testkit/ (the API emulator and `sealer demo`, a distribution of its own);
# tests/test_wheel.py checks what is copied here: nothing imports kmock, only `sealer demo` (lazily) the test kit.
COPY sealer ./sealer
COPY controller ./controller
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels .

# --- runtime: a virtualenv with the wheels installed, nothing else --------------------------------------------
FROM python:3.11-slim AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# The wheels are bind-mounted from the build stage, so they never become a layer of this image; no index is
# asked. pip compiles the bytecode at install time: the root filesystem is read-only at run time.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    --mount=type=bind,from=build,source=/src/requirements,target=/requirements \
    python -m venv /opt/sealer \
    && /opt/sealer/bin/pip install --no-index --find-links=/wheels --require-hashes -r /requirements/base.txt \
    && /opt/sealer/bin/pip install --no-index --find-links=/wheels --no-deps sealer \
    && /opt/sealer/bin/pip check
# uid 65532 has no passwd entry: USER keeps getpass.getuser() (kopf's peer id without POD_ID) working, and HOME
# points at the writable /tmp (an emptyDir in deploy/deployment.yaml).
ENV PATH=/opt/sealer/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    USER=sealer \
    HOME=/tmp
LABEL org.opencontainers.image.title="sealer" \
      org.opencontainers.image.description="Secrets-in-Git controller: SealedSecret, SopsSecret, VaultSecret" \
      org.opencontainers.image.licenses="Apache-2.0"
# Non-root, numeric (so runAsNonRoot can verify it); matches runAsUser in deploy/deployment.yaml.
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080
# No HEALTHCHECK: Kubernetes probes /healthz (deploy/deployment.yaml).
ENTRYPOINT ["python", "-m", "controller"]
