# The appliance as an OCI image: the second path, for a Jetson (JetPack's Docker) or an x86 box that runs
# containers instead of the installer (docs/INSTALL.md §13). Multi-arch: build it with
#     docker buildx build --platform linux/arm64,linux/amd64 -t safety-appliance:0.1.0 .
# or without a Docker daemon (--format docker keeps the HEALTHCHECK, which the OCI format has no field for):
#     buildah bud --format docker -t safety-appliance:0.1.0 .
# Debian 12's Python 3.11 inside, whatever the host runs (JetPack 6 is Ubuntu 22.04 with Python 3.10).
# Offline: put a wheelhouse (image_build/wheelhouse.sh, built for the image's architecture) in ./wheelhouse
# and the Python packages come from it instead of PyPI. BASE: a Debian 12 image (a local mirror's copy).
ARG BASE=debian:bookworm-slim

# --- build: the release venv, the way the installer and `update` lay it out --------------------------------
FROM ${BASE} AS build
ARG DEBIAN_FRONTEND=noninteractive
# gcc, python3-dev, libpcsclite-dev: pyscard has no Linux wheel on PyPI (a wheelhouse may bring one)
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends python3 python3-venv ca-certificates gcc python3-dev \
      libpcsclite-dev >/dev/null \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN set -eu; \
    version=$(sed -n 's/^__version__ = "\([^"]*\)"$/\1/p' /src/appliance/__init__.py); \
    rel=/opt/safety-appliance/releases/$version; \
    pip_src=""; [ ! -d /src/wheelhouse ] || pip_src="--no-index --find-links /src/wheelhouse"; \
    python3 -m venv "$rel"; \
    "$rel/bin/python" -m pip install -q --disable-pip-version-check --no-cache-dir $pip_src -U pip -c /src/constraints.txt; \
    "$rel/bin/python" -m pip install -q --disable-pip-version-check --no-cache-dir $pip_src -c /src/constraints.txt "/src[pcsc]"; \
    ln -s "releases/$version" /opt/safety-appliance/current; \
    install -m 0644 /src/appliance.example.toml /src/README.md /opt/safety-appliance/; \
    install -m 0755 /src/image_build/container-entrypoint.sh /opt/safety-appliance/entrypoint.sh; \
    "$rel/bin/safety-appliance" --version

# --- run ------------------------------------------------------------------------------------------------
FROM ${BASE}
ARG DEBIAN_FRONTEND=noninteractive
# libpcsclite1: PC/SC readers (pcscd runs on the host: mount /run/pcscd); libusb-1.0-0: nfcpy's USB readers;
# fonts-noto-cjk: every page and PDF is Chinese first
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends python3 ca-certificates libpcsclite1 libusb-1.0-0 \
      fonts-noto-cjk >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --home-dir /var/lib/safety-appliance --no-create-home \
      --shell /usr/sbin/nologin safety \
 && install -d -o safety -g safety -m 0750 /var/lib/safety-appliance /etc/safety-appliance
COPY --from=build /opt/safety-appliance /opt/safety-appliance
ENV PATH=/opt/safety-appliance/current/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SAFETY_APPLIANCE_CONFIG=/etc/safety-appliance/appliance.toml
# the data (database, backups, photos, the TLS CA) and the config; the config is made from the example at
# first start when the volume has none
VOLUME ["/var/lib/safety-appliance", "/etc/safety-appliance"]
# 8080: plain HTTP (redirects to HTTPS; health, /ca.crt and the reader stations' posts); 8443: HTTPS
EXPOSE 8080 8443
USER safety
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
  CMD ["python3", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/api/v1/health', timeout=8).status != 200)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/safety-appliance/entrypoint.sh"]
CMD ["run"]
